/* ccid-const.h — wire constants of USB CCID 1.1 and ISO/IEC 7816-3 T=1.
 *
 * Contract: constants only (no functions, no types with behaviour).  This is
 * the one file the driver and the emulated reader share, so that the two sides
 * of the wire stay independent implementations of the same specification.
 */
#ifndef ONSHI_CCID_CONST_H
#define ONSHI_CCID_CONST_H

/* ---- USB ----------------------------------------------------------------- */
#define USB_CLASS_CCID                 0x0B
#define USB_CLASS_VENDOR               0xFF
#define CCID_CLASS_DESC_TYPE           0x21  /* functional descriptor type */
#define CCID_CLASS_DESC_LEN            54

/* Offsets inside the 54-byte CCID class descriptor (CCID 1.1 §5.1). */
#define CCID_DESC_bLength                  0
#define CCID_DESC_bDescriptorType          1
#define CCID_DESC_bcdCCID                  2   /* u16 LE */
#define CCID_DESC_bMaxSlotIndex            4
#define CCID_DESC_bVoltageSupport          5
#define CCID_DESC_dwProtocols              6   /* u32 LE */
#define CCID_DESC_dwDefaultClock          10
#define CCID_DESC_dwMaximumClock          14
#define CCID_DESC_bNumClockSupported      18
#define CCID_DESC_dwDataRate              19
#define CCID_DESC_dwMaxDataRate           23
#define CCID_DESC_bNumDataRatesSupported  27
#define CCID_DESC_dwMaxIFSD               28
#define CCID_DESC_dwSynchProtocols        32
#define CCID_DESC_dwMechanical            36
#define CCID_DESC_dwFeatures              40
#define CCID_DESC_dwMaxCCIDMessageLength  44
#define CCID_DESC_bClassGetResponse       48
#define CCID_DESC_bClassEnvelope          49
#define CCID_DESC_wLcdLayout              50   /* u16 LE */
#define CCID_DESC_bPINSupport             52
#define CCID_DESC_bMaxCCIDBusySlots       53

/* dwProtocols */
#define CCID_PROTOCOL_T0               0x00000001u
#define CCID_PROTOCOL_T1               0x00000002u

/* dwFeatures */
#define CCID_FEAT_AUTO_CONF_ATR        0x00000002u
#define CCID_FEAT_AUTO_ACTIVATION      0x00000004u
#define CCID_FEAT_AUTO_VOLTAGE         0x00000008u
#define CCID_FEAT_AUTO_CLOCK           0x00000010u
#define CCID_FEAT_AUTO_BAUD            0x00000020u
#define CCID_FEAT_AUTO_PPS_PROP        0x00000040u
#define CCID_FEAT_AUTO_PPS_CUR         0x00000080u
#define CCID_FEAT_CLOCK_STOP           0x00000100u
#define CCID_FEAT_NAD_NOT_ZERO         0x00000200u
#define CCID_FEAT_AUTO_IFSD            0x00000400u
#define CCID_FEAT_LEVEL_MASK           0x00070000u
#define CCID_FEAT_LEVEL_CHAR           0x00000000u
#define CCID_FEAT_LEVEL_TPDU           0x00010000u
#define CCID_FEAT_LEVEL_SHORT_APDU     0x00020000u
#define CCID_FEAT_LEVEL_EXTENDED_APDU  0x00040000u
#define CCID_FEAT_USB_WAKEUP           0x00100000u

/* bPINSupport */
#define CCID_PIN_VERIFY                0x01
#define CCID_PIN_MODIFY                0x02

/* Class-specific control requests (bmRequestType 0x21 / 0xA1). */
#define CCID_REQ_ABORT                 0x01
#define CCID_REQ_GET_CLOCK_FREQUENCIES 0x02
#define CCID_REQ_GET_DATA_RATES        0x03

/* ---- messages ------------------------------------------------------------ */
#define CCID_HEADER_LEN                10
#define CCID_OFF_TYPE                  0
#define CCID_OFF_LENGTH                1   /* dwLength u32 LE */
#define CCID_OFF_SLOT                  5
#define CCID_OFF_SEQ                   6
#define CCID_OFF_SPECIFIC              7   /* 3 message-specific bytes */
#define CCID_OFF_STATUS                7   /* RDR_to_PC: bStatus */
#define CCID_OFF_ERROR                 8   /* RDR_to_PC: bError */
#define CCID_OFF_CHAIN                 9   /* RDR_to_PC_DataBlock: bChainParameter */

/* PC_to_RDR (bulk OUT) */
#define PC_TO_RDR_ICC_POWER_ON         0x62
#define PC_TO_RDR_ICC_POWER_OFF        0x63
#define PC_TO_RDR_GET_SLOT_STATUS      0x65
#define PC_TO_RDR_XFR_BLOCK            0x6F
#define PC_TO_RDR_GET_PARAMETERS       0x6C
#define PC_TO_RDR_RESET_PARAMETERS     0x6D
#define PC_TO_RDR_SET_PARAMETERS       0x61
#define PC_TO_RDR_ESCAPE               0x6B
#define PC_TO_RDR_ICC_CLOCK            0x6E
#define PC_TO_RDR_T0_APDU              0x6A
#define PC_TO_RDR_SECURE               0x69
#define PC_TO_RDR_MECHANICAL           0x71
#define PC_TO_RDR_ABORT                0x72
#define PC_TO_RDR_SET_DATA_RATE_CLOCK  0x73

/* RDR_to_PC (bulk IN) */
#define RDR_TO_PC_DATA_BLOCK           0x80
#define RDR_TO_PC_SLOT_STATUS          0x81
#define RDR_TO_PC_PARAMETERS           0x82
#define RDR_TO_PC_ESCAPE               0x83
#define RDR_TO_PC_DATA_RATE_CLOCK      0x84

/* RDR_to_PC (interrupt IN) */
#define RDR_TO_PC_NOTIFY_SLOT_CHANGE   0x50
#define RDR_TO_PC_HARDWARE_ERROR       0x51

/* bPowerSelect of IccPowerOn */
#define CCID_VOLTAGE_AUTO              0x00
#define CCID_VOLTAGE_5V                0x01
#define CCID_VOLTAGE_3V                0x02
#define CCID_VOLTAGE_1_8V              0x03

/* bStatus: bits 0-1 ICC status, bits 6-7 command status. */
#define CCID_ICC_MASK                  0x03
#define CCID_ICC_PRESENT_ACTIVE        0x00
#define CCID_ICC_PRESENT_INACTIVE      0x01
#define CCID_ICC_ABSENT                0x02
#define CCID_CMD_MASK                  0xC0
#define CCID_CMD_OK                    0x00
#define CCID_CMD_FAILED                0x40
#define CCID_CMD_TIME_EXTENSION        0x80

/* bError when bStatus says FAILED (CCID 1.1 table 6.2-2). */
#define CCID_ERR_CMD_ABORTED           0xFF
#define CCID_ERR_ICC_MUTE              0xFE
#define CCID_ERR_XFR_PARITY_ERROR      0xFD
#define CCID_ERR_XFR_OVERRUN           0xFC
#define CCID_ERR_HW_ERROR              0xFB
#define CCID_ERR_BAD_ATR_TS            0xF8
#define CCID_ERR_BAD_ATR_TCK           0xF7
#define CCID_ERR_ICC_PROTOCOL_NOT_SUPPORTED 0xF6
#define CCID_ERR_ICC_CLASS_NOT_SUPPORTED 0xF5
#define CCID_ERR_PROCEDURE_BYTE_CONFLICT 0xF4
#define CCID_ERR_DEACTIVATED_PROTOCOL  0xF3
#define CCID_ERR_BUSY_WITH_AUTO_SEQUENCE 0xF2
#define CCID_ERR_PIN_TIMEOUT           0xF0
#define CCID_ERR_PIN_CANCELLED         0xEF
#define CCID_ERR_CMD_SLOT_BUSY         0xE0
#define CCID_ERR_CMD_NOT_SUPPORTED     0x00
/* Offsets 1..127 of a failed command name the offending header byte. */
#define CCID_ERR_BAD_LENGTH            0x01  /* dwLength */
#define CCID_ERR_BAD_SLOT              0x05  /* bSlot */
#define CCID_ERR_BAD_POWERSELECT       0x07
#define CCID_ERR_BAD_LEVEL_PARAMETER   0x08

/* bChainParameter / wLevelParameter for extended-APDU level (CCID 1.1 §6.1.4). */
#define CCID_CHAIN_BEGIN_AND_END       0x00
#define CCID_CHAIN_BEGIN               0x01
#define CCID_CHAIN_END                 0x02
#define CCID_CHAIN_CONTINUE            0x03
#define CCID_CHAIN_EMPTY_NEXT          0x10  /* host: "send the next part" */

/* PC_to_RDR_Secure bPINOperation */
#define CCID_SECURE_PIN_VERIFY         0x00
#define CCID_SECURE_PIN_MODIFY         0x01

/* ---- ISO/IEC 7816-3 T=1 block protocol ------------------------------------ */
#define T1_PROLOGUE_LEN                3      /* NAD PCB LEN */
#define T1_MAX_INF                     254
#define T1_DEFAULT_IFS                 32
#define T1_I_BLOCK                     0x00   /* b8 = 0 */
#define T1_I_SEQ                       0x40   /* N(S) */
#define T1_I_MORE                      0x20   /* M bit: chaining */
#define T1_R_BLOCK                     0x80   /* b8..b7 = 10 */
#define T1_R_SEQ                       0x10   /* N(R) */
#define T1_R_ERR_MASK                  0x0F
#define T1_R_OK                        0x00
#define T1_R_EDC_ERROR                 0x01
#define T1_R_OTHER_ERROR               0x02
#define T1_S_BLOCK                     0xC0   /* b8..b7 = 11 */
#define T1_S_RESPONSE                  0x20
#define T1_S_RESYNCH                   0x00
#define T1_S_IFS                       0x01
#define T1_S_ABORT                     0x02
#define T1_S_WTX                       0x03
#define T1_BLOCK_TYPE_MASK             0xC0

/* ---- ATR ------------------------------------------------------------------ */
#define ATR_MAX_LEN                    33
#define ATR_TS_DIRECT                  0x3B
#define ATR_TS_INVERSE                 0x3F

#endif
