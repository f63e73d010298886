/* jpki-const.h — My Number card (個人番号カード) constants: AIDs, EF identifiers,
 * instruction bytes, status words and retry limits.  Sources: shared/reference/jpki.md.
 *
 * Contract: constants only.  The daemon and the virtual card both include it;
 * neither may put a codec or state machine here.
 */
#ifndef ONSHI_JPKI_CONST_H
#define ONSHI_JPKI_CONST_H

#define JPKI_AID_LEN                   10
/* 公的個人認証AP */
#define JPKI_AID_JPKI         { 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01 }
/* 券面事項入力補助AP */
#define JPKI_AID_TEXT         { 0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08 }
/* 券面事項確認AP */
#define JPKI_AID_VISUAL       { 0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x02 }
/* 共通カードAP */
#define JPKI_AID_COMMON       { 0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x01, 0x00 }
/* 住基AP */
#define JPKI_AID_JUKI         { 0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x01 }

/* JPKI AP elementary files */
#define JPKI_EF_SIGN_CERT              0x0001
#define JPKI_EF_SIGN_CA_CERT           0x0002
#define JPKI_EF_TOKEN_INFO             0x0006
#define JPKI_EF_CERT_PRESENCE          0x0008
#define JPKI_EF_AUTH_CERT              0x000A
#define JPKI_EF_AUTH_CA_CERT           0x000B
#define JPKI_EF_AUTH_KEY               0x0017
#define JPKI_EF_AUTH_PIN               0x0018
#define JPKI_EF_SIGN_KEY               0x001A
#define JPKI_EF_SIGN_PIN               0x001B
#define JPKI_TOKEN_INFO_LEN            160
#define JPKI_TOKEN_LABEL_LEN           32
#define JPKI_TOKEN_LABEL_CARD          "JPKIAPICCTOKEN2"
#define JPKI_TOKEN_LABEL_JUKI          "JPKIAPICCTOKEN"
#define JPKI_TOKEN_LABEL_ANDROID       "JPKIAPGPSETOKEN"
#define JPKI_TOKEN_LABEL_IOS           "JPKIAPIOSTOKEN"

/* 券面事項入力補助AP */
#define TEXT_EF_MY_NUMBER              0x0001
#define TEXT_EF_ATTRIBUTES             0x0002
#define TEXT_EF_INTEGRITY              0x0003
#define TEXT_EF_CV_CERT                0x0004
#define TEXT_EF_BASIC_INFO             0x0005
#define TEXT_EF_PIN                    0x0011
#define TEXT_EF_COLLATION_A            0x0014
#define TEXT_EF_COLLATION_B            0x0015

/* 券面事項確認AP */
#define VISUAL_EF_AGE                  0x0001
#define VISUAL_EF_FACE                 0x0002
#define VISUAL_EF_BASIC_DATA           0x0003
#define VISUAL_EF_CV_CERT              0x0004
#define VISUAL_EF_NUMBER_IMAGE         0x0005
#define VISUAL_EF_BIRTH_KEY            0x0011
#define VISUAL_EF_COLLATION_B          0x0012
#define VISUAL_EF_COLLATION_A          0x0013

/* Retry limits and formats */
#define JPKI_AUTH_PIN_LEN              4
#define JPKI_AUTH_PIN_TRIES            3
#define JPKI_SIGN_PW_MIN               6
#define JPKI_SIGN_PW_MAX               16
#define JPKI_SIGN_PW_TRIES             5
#define TEXT_PIN_TRIES                 3
#define COLLATION_A_LEN                12
#define COLLATION_B_LEN                14
#define COLLATION_B_TRIES              10

/* Instructions */
#define ISO_CLA                        0x00
#define JPKI_CLA_PROPRIETARY           0x80
#define ISO_INS_SELECT                 0xA4
#define ISO_INS_READ_BINARY            0xB0
#define ISO_INS_READ_RECORD            0xB2
#define ISO_INS_VERIFY                 0x20
#define ISO_INS_CHANGE_REFERENCE_DATA  0x24
#define ISO_INS_GET_CHALLENGE          0x84
#define ISO_INS_INTERNAL_AUTHENTICATE  0x88
#define ISO_INS_GET_RESPONSE           0xC0
#define ISO_INS_GET_DATA               0xCA
#define JPKI_INS_COMPUTE_SIGNATURE     0x2A
#define SELECT_P1_DF_NAME              0x04
#define SELECT_P1_EF_ID                0x02
#define SELECT_P2_NO_RESPONSE          0x0C
#define VERIFY_P2_CURRENT_EF           0x80
#define SIGN_P1_PKCS1_RAW              0x00
#define SIGN_P2_CURRENT_KEY            0x80

/* Status words */
#define SW_OK                          0x9000
#define SW_VERIFY_FAILED_BASE          0x63C0  /* | tries left */
#define SW_VERIFY_FAILED_NO_COUNT      0x6300
#define SW_WRONG_LENGTH                0x6700
#define SW_LOGICAL_CHANNEL_UNSUPPORTED 0x6881
#define SW_SECURITY_NOT_SATISFIED      0x6982
#define SW_AUTH_METHOD_BLOCKED         0x6983
#define SW_REF_DATA_BLOCKED            0x6984
#define SW_CONDITIONS_NOT_SATISFIED    0x6985
#define SW_COMMAND_NOT_ALLOWED_NO_EF   0x6986
#define SW_WRONG_DATA                  0x6A80
#define SW_FUNC_NOT_SUPPORTED          0x6A81
#define SW_FILE_NOT_FOUND              0x6A82
#define SW_INCORRECT_P1P2              0x6A86
#define SW_REF_DATA_NOT_FOUND          0x6A88
#define SW_WRONG_P1P2                  0x6B00
#define SW_INS_NOT_SUPPORTED           0x6D00
#define SW_CLA_NOT_SUPPORTED           0x6E00
#define SW_UNKNOWN                     0x6F00
#define SW_BYTES_REMAINING_BASE        0x6100
#define SW_WRONG_LE_BASE               0x6C00

/* DigestInfo prefixes (PKCS#1 v1.5, RFC 8017 §9.2 note 1) */
#define DIGESTINFO_SHA256_PREFIX { 0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 }
#define DIGESTINFO_SHA384_PREFIX { 0x30, 0x41, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 }
#define DIGESTINFO_SHA512_PREFIX { 0x30, 0x51, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 }
#define DIGESTINFO_PREFIX_LEN          19

/* Sign certificate subjectAltName otherName OIDs (基本4情報). */
#define JPKI_OID_NAME                  "1.2.392.200149.8.5.5.1"
#define JPKI_OID_NAME_ALT              "1.2.392.200149.8.5.5.2"
#define JPKI_OID_SEX                   "1.2.392.200149.8.5.5.3"
#define JPKI_OID_BIRTH                 "1.2.392.200149.8.5.5.4"
#define JPKI_OID_ADDRESS               "1.2.392.200149.8.5.5.5"
#define JPKI_OID_ADDRESS_ALT           "1.2.392.200149.8.5.5.6"

/* Added for the daemon core (onshid). */
#define SW_END_OF_FILE_BEFORE_LE       0x6282
#define JPKI_CERT_PRESENCE_LEN         3      /* EF 0008: sign, auth, unknown */
#define JPKI_CERT_PRESENT_MARK         0x8F
#define TEXT_PIN_LEN                   4
#define JPKI_RSA_SIGNATURE_LEN         256    /* RSA-2048 PKCS#1 v1.5 */
#define JPKI_SHA256_LEN                32
#define JPKI_SHA384_LEN                48
#define JPKI_SHA512_LEN                64
#define ISO_SHORT_LE_MAX               256    /* Le byte 00 means 256 */
#define ISO_EXTENDED_LE_MAX            65536  /* Le bytes 00 00 mean 65536 */
#define ISO_READ_BINARY_OFFSET_MAX     0x7FFF /* P1 b8 = 0: 15-bit offset */
/* 券面事項入力補助AP EF 0002 (基本4情報) record tags */
#define TEXT_TAG_BASIC4                0xFF20
#define TEXT_TAG_BASIC4_OFFSETS        0xDF21
#define TEXT_TAG_BASIC4_NAME           0xDF22
#define TEXT_TAG_BASIC4_ADDRESS        0xDF23
#define TEXT_TAG_BASIC4_BIRTH          0xDF24
#define TEXT_TAG_BASIC4_SEX            0xDF25

/* Added for the virtual card (tests/vcard); values from jpki.md. */
#define JPKI_AID_ISD                   { 0xA0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00 }  /* GP ISD, §1 */
#define JPKI_AID_ISD_LEN               7
#define JPKI_CERT_PRESENCE_BOTH        { 0x8F, 0x8F, 0x00 }  /* EF 0008, §2.1 */
#define JPKI_CERT_PRESENCE_AUTH_ONLY   { 0x00, 0x8F, 0x00 }
#define JPKI_CERT_PRESENCE_LEN         3      /* EF 0008: sign, auth, unknown */
#define TEXT_PIN_LEN                   4
#define COLLATION_A_TRIES              3      /* UNCERTAIN (§5.4): what other tools assume */
#define SELECT_P1_MF                   0x00
#define SELECT_P2_FCI_OPTIONAL         0x00
#define READ_BINARY_P1_SFI             0x80   /* P1 = 80|SFI, P2 = 8-bit offset */
#define KEY_P2_SFI                     0x80   /* VERIFY / sign: P2 = 80|SFI */
#define SFI_MASK                       0x1F
#define SIGN_P1_DIGESTINFO_WRAP        0x02   /* card wraps a SHA-256 hash in DigestInfo */
#define SIGN_P2_DEFAULT_KEY            0x00   /* 券面AP "card present" key */
#define GET_DATA_TAG_CONTACT_ATR       0x5F51 /* contact ATR without TS, §2.5 */
#define SW_END_OF_FILE_BEFORE_LE       0x6282
#define SW_INCOMPATIBLE_FILE           0x6981

#endif
