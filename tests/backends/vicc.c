/* vicc.c — vpcd side of the vicc protocol (see vicc.h). */
#include "tests/backends/vicc.h"
#include "tests/backends/backend-common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Control codes of the vicc protocol. */
#define VICC_CTRL_OFF    0
#define VICC_CTRL_ON     1
#define VICC_CTRL_RESET  2
#define VICC_CTRL_ATR    4
#define VICC_MSG_MAX     0xFFFF   /* the length prefix is 16 bits */

struct vicc_card {
	emu_card base;
	int listen_fd;
	int card_fd;              /* -1 while no card is connected */
	int port;
	int timeout_ms;
	int interrupt_fd;         /* eventfd: vicc_interrupt() ends a wait */
};

static struct vicc_card *vicc_of(emu_card *card)
{
	return (struct vicc_card *)card;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drop_card(struct vicc_card *v, const char *why)
{
	if (v->card_fd < 0)
		return;
	fprintf(stderr, "vicc: card on port %d dropped: %s\n", v->port, why);
	close(v->card_fd);
	v->card_fd = -1;
}

/* Forget an interrupt once its operation is over: each public operation
 * starts with this, so an interrupt ends the operation it hit, not a later one. */
static void clear_interrupt(struct vicc_card *v)
{
	uint64_t count;

	while (read(v->interrupt_fd, &count, sizeof count) == (ssize_t)sizeof count)
		;
}

/* Wait until fd is ready for events, the deadline passes or the card is
 * interrupted.  1 ready, 0 timed out, -1 error or interrupt (errno ECANCELED). */
static int wait_fd(struct vicc_card *v, int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd[2] = { { .fd = fd, .events = events },
					 { .fd = v->interrupt_fd, .events = POLLIN } };
		int64_t left = deadline - now_ms();
		int r;

		if (left <= 0)
			return 0;
		r = poll(pfd, 2, left > 60000 ? 60000 : (int)left);
		if (r > 0 && pfd[1].revents) {
			/* left signalled: every later wait of this operation ends too */
			errno = ECANCELED;
			return -1;
		}
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static int ensure_card(struct vicc_card *v)
{
	int64_t deadline = now_ms() + v->timeout_ms;
	int r, fd;

	if (v->card_fd >= 0)
		return 0;
	r = wait_fd(v, v->listen_fd, POLLIN, deadline);
	if (r < 0 && errno == ECANCELED) {
		fprintf(stderr, "vicc: waiting for a card on 127.0.0.1:%d interrupted\n", v->port);
		return -1;
	}
	if (r <= 0) {
		fprintf(stderr, "vicc: no card connected to 127.0.0.1:%d within %d ms\n",
			v->port, v->timeout_ms);
		return -1;
	}
	fd = accept4(v->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "vicc: accept on port %d: %s\n", v->port, strerror(errno));
		return -1;
	}
	v->card_fd = fd;
	return 0;
}

static int send_all(struct vicc_card *v, const uint8_t *buf, size_t len, int64_t deadline)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n;
		int r = wait_fd(v, v->card_fd, POLLOUT, deadline);

		if (r <= 0) {
			drop_card(v, r == 0 ? "send timed out" : strerror(errno));
			return -1;
		}
		n = send(v->card_fd, buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			drop_card(v, strerror(errno));
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

static int recv_all(struct vicc_card *v, uint8_t *buf, size_t len, int64_t deadline)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n;
		int r = wait_fd(v, v->card_fd, POLLIN, deadline);

		if (r <= 0) {
			drop_card(v, r == 0 ? "the card did not answer in time" : strerror(errno));
			return -1;
		}
		n = recv(v->card_fd, buf + done, len - done, MSG_DONTWAIT);
		if (n == 0) {
			drop_card(v, "the card closed the connection");
			return -1;
		}
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			drop_card(v, strerror(errno));
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

static int send_message(struct vicc_card *v, const uint8_t *msg, size_t len)
{
	int64_t deadline = now_ms() + v->timeout_ms;
	uint8_t *frame;
	int r;

	if (v->card_fd < 0)
		return -1;
	/* One buffer, so that the prefix and the message usually travel in one
	 * segment: vsmartcard's Python card reads the message with a single
	 * recv() and would take a split message for a short one. */
	frame = malloc(len + 2);
	if (!frame) {
		drop_card(v, "out of memory");
		return -1;
	}
	frame[0] = (uint8_t)(len >> 8);
	frame[1] = (uint8_t)len;
	memcpy(frame + 2, msg, len);
	r = send_all(v, frame, len + 2, deadline);
	free(frame);
	return r;
}

/* Receive one message of min..max bytes into buf. */
static int recv_message(struct vicc_card *v, uint8_t *buf, size_t min, size_t max,
			const char *what, size_t *len)
{
	int64_t deadline = now_ms() + v->timeout_ms;
	uint8_t prefix[2];
	size_t n;

	if (v->card_fd < 0)
		return -1;
	if (recv_all(v, prefix, sizeof prefix, deadline) < 0)
		return -1;
	n = (size_t)prefix[0] << 8 | prefix[1];
	if (n < min || n > max) {
		char why[128];

		/* The stream cannot be resynchronised after a bad length. */
		snprintf(why, sizeof why, "%s of %zu bytes (must be %zu to %zu)", what, n, min, max);
		drop_card(v, why);
		return -1;
	}
	if (recv_all(v, buf, n, deadline) < 0)
		return -1;
	*len = n;
	return 0;
}

static int send_control(struct vicc_card *v, uint8_t code)
{
	return send_message(v, &code, 1);
}

static int get_atr(struct vicc_card *v, uint8_t atr[ATR_MAX_LEN], size_t *atr_len)
{
	if (send_control(v, VICC_CTRL_ATR) < 0)
		return -1;
	return recv_message(v, atr, 1, ATR_MAX_LEN, "an ATR", atr_len);
}

static int vicc_power_on(emu_card *card, uint8_t atr[ATR_MAX_LEN], size_t *atr_len)
{
	struct vicc_card *v = vicc_of(card);
	bool had_card = v->card_fd >= 0;

	clear_interrupt(v);
	if (ensure_card(v) < 0)
		return -1;
	if (send_control(v, VICC_CTRL_ON) == 0 && get_atr(v, atr, atr_len) == 0)
		return 0;
	/* The card that was connected has gone (its process ended): a power-on
	 * is where a new card is accepted, as vpcd does. */
	if (!had_card || ensure_card(v) < 0 || send_control(v, VICC_CTRL_ON) < 0)
		return -1;
	return get_atr(v, atr, atr_len);
}

static int vicc_warm_reset(emu_card *card, uint8_t atr[ATR_MAX_LEN], size_t *atr_len)
{
	struct vicc_card *v = vicc_of(card);

	clear_interrupt(v);
	if (send_control(v, VICC_CTRL_RESET) < 0)
		return -1;
	return get_atr(v, atr, atr_len);
}

static void vicc_power_off(emu_card *card)
{
	struct vicc_card *v = vicc_of(card);

	clear_interrupt(v);
	if (v->card_fd >= 0)
		send_control(v, VICC_CTRL_OFF);
}

static int vicc_transmit(emu_card *card, const uint8_t *capdu, size_t capdu_len,
			 uint8_t *rapdu, size_t *rapdu_len)
{
	struct vicc_card *v = vicc_of(card);
	size_t max = EMU_RAPDU_MAX < VICC_MSG_MAX ? EMU_RAPDU_MAX : VICC_MSG_MAX;

	clear_interrupt(v);
	/* A 1-byte message would be taken for a control code, and the length
	 * prefix cannot say more than 65535. */
	if (capdu_len < 2 || capdu_len > VICC_MSG_MAX) {
		fprintf(stderr, "vicc: a %zu-byte command cannot be sent to a vicc card\n",
			capdu_len);
		return -1;
	}
	if (send_message(v, capdu, capdu_len) < 0)
		return -1;
	return recv_message(v, rapdu, 2, max, "a response", rapdu_len);
}

static void vicc_destroy(emu_card *card)
{
	struct vicc_card *v = vicc_of(card);

	if (v->card_fd >= 0)
		close(v->card_fd);
	close(v->listen_fd);
	close(v->interrupt_fd);
	free(v);
}

/* Any thread; async-signal-safe. */
static void vicc_interrupt(emu_card *card)
{
	uint64_t one = 1;

	if (write(vicc_of(card)->interrupt_fd, &one, sizeof one) < 0) {
		/* the counter is full: an interrupt is pending anyway */
	}
}

static const emu_card_ops vicc_ops = {
	.power_on = vicc_power_on,
	.warm_reset = vicc_warm_reset,
	.power_off = vicc_power_off,
	.transmit = vicc_transmit,
	.destroy = vicc_destroy,
	.interrupt = vicc_interrupt,
};

int vicc_card_port(emu_card *card)
{
	return vicc_of(card)->port;
}

static int open_listener(unsigned port, int *bound_port, char **error)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t addr_len = sizeof addr;
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		goto fail;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
	    listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &addr_len) < 0)
		goto fail;
	*bound_port = ntohs(addr.sin_port);
	return fd;
fail:
	if (asprintf(error, "vicc: cannot listen on 127.0.0.1:%u: %s", port, strerror(errno)) < 0)
		*error = NULL;
	if (fd >= 0)
		close(fd);
	return -1;
}

emu_card *vicc_card_open(unsigned port, int timeout_ms, char **error)
{
	struct vicc_card *v;

	*error = NULL;
	if (port > 65535 || timeout_ms <= 0) {
		*error = strdup("vicc: port must be 0..65535 and the timeout positive");
		return NULL;
	}
	v = calloc(1, sizeof *v);
	if (!v) {
		*error = strdup("out of memory");
		return NULL;
	}
	v->interrupt_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (v->interrupt_fd < 0) {
		if (asprintf(error, "vicc: eventfd: %s", strerror(errno)) < 0)
			*error = NULL;
		free(v);
		return NULL;
	}
	v->listen_fd = open_listener(port, &v->port, error);
	if (v->listen_fd < 0) {
		close(v->interrupt_fd);
		free(v);
		return NULL;
	}
	v->card_fd = -1;
	v->timeout_ms = timeout_ms;
	v->base.ops = &vicc_ops;
	v->base.kind = "vicc";
	backend_default_atqb(&v->base);
	return &v->base;
}
