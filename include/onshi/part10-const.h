/* part10-const.h — PC/SC v2 Part 10 (IFDs with secure PIN entry) constants.
 * Constants only; shared by the driver, the emulated pinpad and PC/SC clients. */
#ifndef ONSHI_PART10_CONST_H
#define ONSHI_PART10_CONST_H

/* pcsc-lite's SCARD_CTL_CODE(code) = 0x42000000 + code. */
#define ONSHI_SCARD_CTL_CODE(code)     (0x42000000u + (code))
#define CM_IOCTL_GET_FEATURE_REQUEST   ONSHI_SCARD_CTL_CODE(3400)
/* IOCTL of a feature as libccid exposes it: SCARD_CTL_CODE(0x330000 + tag). */
#define ONSHI_FEATURE_IOCTL(tag)       ONSHI_SCARD_CTL_CODE(0x330000u + (tag))
#define ONSHI_IOCTL_VENDOR_ESCAPE      ONSHI_SCARD_CTL_CODE(1)

/* Feature tags (GET_FEATURE_REQUEST TLV: tag 1 B, len 1 B = 4, ioctl u32 BE). */
#define FEATURE_VERIFY_PIN_START       0x01
#define FEATURE_VERIFY_PIN_FINISH      0x02
#define FEATURE_MODIFY_PIN_START       0x03
#define FEATURE_MODIFY_PIN_FINISH      0x04
#define FEATURE_GET_KEY_PRESSED        0x05
#define FEATURE_VERIFY_PIN_DIRECT      0x06
#define FEATURE_MODIFY_PIN_DIRECT      0x07
#define FEATURE_MCT_READER_DIRECT      0x08
#define FEATURE_MCT_UNIVERSAL          0x09
#define FEATURE_IFD_PIN_PROPERTIES     0x0A
#define FEATURE_ABORT                  0x0B
#define FEATURE_SET_SPE_MESSAGE        0x0C
#define FEATURE_VERIFY_PIN_DIRECT_APP_ID 0x0D
#define FEATURE_MODIFY_PIN_DIRECT_APP_ID 0x0E
#define FEATURE_WRITE_DISPLAY          0x0F
#define FEATURE_GET_KEY                0x10
#define FEATURE_IFD_DISPLAY_PROPERTIES 0x11
#define FEATURE_GET_TLV_PROPERTIES     0x12
#define FEATURE_CCID_ESC_COMMAND       0x13

/* GET_TLV_PROPERTIES tags */
#define PCSCv2_PART10_PROPERTY_wLcdLayout               1
#define PCSCv2_PART10_PROPERTY_bEntryValidationCondition 2
#define PCSCv2_PART10_PROPERTY_bTimeOut2                3
#define PCSCv2_PART10_PROPERTY_wLcdMaxCharacters        4
#define PCSCv2_PART10_PROPERTY_wLcdMaxLines             5
#define PCSCv2_PART10_PROPERTY_bMinPINSize              6
#define PCSCv2_PART10_PROPERTY_bMaxPINSize              7
#define PCSCv2_PART10_PROPERTY_sFirmwareID              8
#define PCSCv2_PART10_PROPERTY_bPPDUSupport             9
#define PCSCv2_PART10_PROPERTY_dwMaxAPDUDataSize        10
#define PCSCv2_PART10_PROPERTY_wIdVendor                11
#define PCSCv2_PART10_PROPERTY_wIdProduct               12

/* PIN_VERIFY_STRUCTURE (packed, little-endian multi-byte fields), offsets. */
#define PIN_VERIFY_bTimerOut                 0
#define PIN_VERIFY_bTimerOut2                1
#define PIN_VERIFY_bmFormatString            2
#define PIN_VERIFY_bmPINBlockString          3
#define PIN_VERIFY_bmPINLengthFormat         4
#define PIN_VERIFY_wPINMaxExtraDigit         5   /* u16: min (hi byte) / max (lo byte) */
#define PIN_VERIFY_bEntryValidationCondition 7
#define PIN_VERIFY_bNumberMessage            8
#define PIN_VERIFY_wLangId                   9   /* u16 */
#define PIN_VERIFY_bMsgIndex                 11
#define PIN_VERIFY_bTeoPrologue              12  /* 3 bytes */
#define PIN_VERIFY_ulDataLength              15  /* u32 */
#define PIN_VERIFY_abData                    19
#define PIN_VERIFY_HEADER_LEN                19

/* bmFormatString bits */
#define PIN_FMT_SYSTEM_UNITS_BYTES     0x80   /* b7: pos in bytes (1) or bits (0) */
#define PIN_FMT_POS_MASK               0x78   /* b6..b3: PIN position */
#define PIN_FMT_POS_SHIFT              3
#define PIN_FMT_RIGHT_JUSTIFY          0x04
#define PIN_FMT_TYPE_MASK              0x03
#define PIN_FMT_TYPE_BINARY            0x00
#define PIN_FMT_TYPE_BCD               0x01
#define PIN_FMT_TYPE_ASCII             0x02

/* bEntryValidationCondition */
#define PIN_VALIDATE_MAX_SIZE          0x01
#define PIN_VALIDATE_KEY               0x02
#define PIN_VALIDATE_TIMEOUT           0x04

/* Status words a pinpad reports for the keypad outcome (libccid maps bError). */
#define PIN_SW_TIMEOUT                 0x6400
#define PIN_SW_CANCELLED               0x6401

/* PIN_MODIFY_STRUCTURE (packed, little-endian multi-byte fields), offsets. */
#define PIN_MODIFY_bTimerOut                 0
#define PIN_MODIFY_bTimerOut2                1
#define PIN_MODIFY_bmFormatString            2
#define PIN_MODIFY_bmPINBlockString          3
#define PIN_MODIFY_bmPINLengthFormat         4
#define PIN_MODIFY_bInsertionOffsetOld       5
#define PIN_MODIFY_bInsertionOffsetNew       6
#define PIN_MODIFY_wPINMaxExtraDigit         7   /* u16 */
#define PIN_MODIFY_bConfirmPIN               9
#define PIN_MODIFY_bEntryValidationCondition 10
#define PIN_MODIFY_bNumberMessage            11
#define PIN_MODIFY_wLangId                   12  /* u16 */
#define PIN_MODIFY_bMsgIndex1                14
#define PIN_MODIFY_bMsgIndex2                15
#define PIN_MODIFY_bMsgIndex3                16
#define PIN_MODIFY_bTeoPrologue              17  /* 3 bytes */
#define PIN_MODIFY_ulDataLength              20  /* u32 */
#define PIN_MODIFY_abData                    24
#define PIN_MODIFY_HEADER_LEN                24

#endif
