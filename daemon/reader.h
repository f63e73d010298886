/* reader.h — reader objects (/org/onshi/Onshi1/reader/N) and the card
 * operations run on them.
 *
 * Contract:
 *  - Only the main (sd-event) thread touches sd-bus and reader state.  Card
 *    I/O runs in one worker thread per reader (its own SCARDCONTEXT), one
 *    step at a time; a finished step is handed back through an eventfd
 *    watched by sd-event.  So the loop keeps serving other readers, agents
 *    and property reads while a card works or a user types.
 *  - One operation per reader at a time; up to ONSHID_READER_QUEUE_MAX wait
 *    in order, more get Error.Busy.
 *  - PIN operations hold an exclusive connection from the retry-counter
 *    query until the end and finish with SCARD_UNPOWER_CARD (a warm reset
 *    keeps the verified state).
 *  - A caller leaving the bus, Reader.Cancel(), the card leaving the reader
 *    and the reader leaving all end the operation: the agent gets Cancel,
 *    the card is powered down, the next queued operation starts.  When the
 *    card leaves, the calls queued behind it fail too (CardRemoved): a
 *    call made while one card was in never runs on the next one.
 *  - readers_sync() takes a pcsc-monitor snapshot and adds/removes reader
 *    objects (ReaderAdded/ReaderRemoved) and updates card properties
 *    (PropertiesChanged).
 */
#ifndef ONSHI_READER_H
#define ONSHI_READER_H

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "pcsc-monitor.h"

void readers_init(sd_bus *bus, sd_event *event);
void readers_sync(const struct pcsc_snapshot *snap);
/* Appends the published reader paths to m (inside an "ao" container). */
int readers_append_paths(sd_bus_message *m);
/* Ends every operation (Cancelled) and frees all readers (joins workers). */
void readers_shutdown(void);

#endif
