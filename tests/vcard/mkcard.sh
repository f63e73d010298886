#!/bin/sh
# mkcard.sh — make the directory of a virtual My Number card (TEST DATA ONLY).
#
# Usage: mkcard.sh DIR [options]
#   --auth-pin NNNN        利用者証明用暗証番号 (4 digits)            [1234]
#   --sign-pw PW           署名用パスワード (6-16 of [A-Z0-9])        [TESTPW99]
#   --text-pin NNNN        券面事項入力補助用暗証番号 (4 digits)      [5678]
#   --my-number D12        個人番号 = 照合番号A (12 digits, the check digit
#                          is not enforced so tests can use any)      [a valid test number]
#   --collation-b D14      照合番号B (14 digits)                      [60070120344321]
#   --foreign-ca           sign the auth certificate with a CA that is NOT the
#                          card's auth CA (auth-ca.der stays on the card)
#   --no-sign-cert         no 署名用 certificate or key (EF 0008 = 00 8F 00)
#
# Needs `openssl` ($OPENSSL or PATH) and `opj_compress` ($OPJ_COMPRESS or
# PATH, Debian package libopenjp2-tools).  Runs in well under 2 s: the RSA
# keys are generated in parallel.
#
# Files written to DIR (the contract with tests/vcard/vcard.c and the tests;
# the card serves the .der/.bin files byte for byte):
#   card.conf           key=value: auth_pin sign_pw text_pin my_number
#                       collation_b name name_kana address birth sex expiry
#                       auth_cn sign_cert(yes|no) foreign_ca(yes|no)
#   auth-ca.pem/.der    利用者証明用CA certificate       -> JPKI EF 000B
#   auth-ca.key.pem     its key
#   sign-ca.pem/.der    署名用CA certificate             -> JPKI EF 0002
#   sign-ca.key.pem     its key
#   foreign-ca.pem/.der, foreign-ca.key.pem   (--foreign-ca only) the CA that
#                       really issued auth.pem
#   auth.pem/.der       利用者証明用 certificate          -> JPKI EF 000A
#   auth.key.pem        its RSA-2048 key                 -> JPKI EF 0017
#   sign.pem/.der       署名用 certificate (absent with --no-sign-cert) -> JPKI EF 0001
#   sign.key.pem        its RSA-2048 key (same)          -> JPKI EF 001A
#   my-number.bin       FF 10 0C <12 digits> FF FF       -> 入力補助AP EF 0001
#   attributes.bin      基本4情報 FF 20 {DF21..DF25}     -> 入力補助AP EF 0002
#   face.pgm, face.jp2  the generated greyscale face photo (JP2 container)
#   visual.key.pem      key whose public half is DF24 of the card face
#   card-face.bin       券面 FF 20 {DF21..DF2A}, DF27 = face.jp2 -> 確認AP EF 0002
set -eu

die() { echo "mkcard.sh: $*" >&2; exit 2; }

[ $# -ge 1 ] || die "usage: mkcard.sh DIR [--auth-pin N] [--sign-pw PW] [--text-pin N] [--my-number D12] [--collation-b D14] [--foreign-ca] [--no-sign-cert]"
dir=$1; shift

auth_pin=1234
sign_pw=TESTPW99
text_pin=5678
my_number=""
collation_b=60070120344321
foreign_ca=no
sign_cert=yes
while [ $# -gt 0 ]; do
	case $1 in
	--auth-pin) [ $# -ge 2 ] || die "$1 needs a value"; auth_pin=$2; shift 2 ;;
	--sign-pw) [ $# -ge 2 ] || die "$1 needs a value"; sign_pw=$2; shift 2 ;;
	--text-pin) [ $# -ge 2 ] || die "$1 needs a value"; text_pin=$2; shift 2 ;;
	--my-number) [ $# -ge 2 ] || die "$1 needs a value"; my_number=$2; shift 2 ;;
	--collation-b) [ $# -ge 2 ] || die "$1 needs a value"; collation_b=$2; shift 2 ;;
	--foreign-ca) foreign_ca=yes; shift ;;
	--no-sign-cert) sign_cert=no; shift ;;
	*) die "unknown option: $1" ;;
	esac
done

# Formats of the card's key EFs (jpki.md §2, §5.4, §5.5).
is_digits() { # VALUE LENGTH
	[ ${#1} -eq "$2" ] && case $1 in *[!0-9]*) return 1 ;; esac
}
is_digits "$auth_pin" 4 || die "--auth-pin must be 4 digits"
is_digits "$text_pin" 4 || die "--text-pin must be 4 digits"
is_digits "$collation_b" 14 || die "--collation-b must be 14 digits"
case $sign_pw in *[!A-Z0-9]*) die "--sign-pw must be [A-Z0-9]" ;; esac
[ ${#sign_pw} -ge 6 ] && [ ${#sign_pw} -le 16 ] || die "--sign-pw must be 6-16 characters"

# A 12-digit test number with a correct My Number check digit (the check
# digit formula is public; the first 11 digits are arbitrary test data).
my_number_check_digit() { # 11 DIGITS
	sum=0; n=1; rest=$1
	while [ $n -le 11 ]; do
		d=${rest#"${rest%?}"}; rest=${rest%?}
		if [ $n -le 6 ]; then q=$((n + 1)); else q=$((n - 5)); fi
		sum=$((sum + d * q)); n=$((n + 1))
	done
	r=$((sum % 11))
	if [ $r -le 1 ]; then echo 0; else echo $((11 - r)); fi
}
if [ -z "$my_number" ]; then
	my_number=99001234567$(my_number_check_digit 99001234567)
fi
is_digits "$my_number" 12 || die "--my-number must be 12 digits"

OPENSSL=${OPENSSL:-openssl}
command -v "$OPENSSL" >/dev/null 2>&1 || die "openssl not found (set OPENSSL)"
OPJ_COMPRESS=${OPJ_COMPRESS:-opj_compress}
command -v "$OPJ_COMPRESS" >/dev/null 2>&1 || die "opj_compress not found (apt-get install libopenjp2-tools, or set OPJ_COMPRESS)"

mkdir -p "$dir" || die "cannot create $dir"
cd "$dir"
umask 077
export LC_ALL=C

# Fictional holder (test data that names nobody).
auth_cn=JPKITESTAUTH00000001     # 20 characters, as real auth certs carry
sign_cn=JPKITESTSIGN00000001
name='試験　花子'
name_kana='シケン　ハナコ'
address='テスト県見本市試験町一丁目２番３号'
birth=19850701
sex=2
expiry=20340701

# ---------------------------------------------------------------- keys -----
# RSA key generation dominates the run time: do all of it in parallel.
keys="auth-ca.key.pem sign-ca.key.pem auth.key.pem visual.key.pem"
[ $sign_cert = yes ] && keys="$keys sign.key.pem"
[ $foreign_ca = yes ] && keys="$keys foreign-ca.key.pem"
pids=""
for k in $keys; do
	"$OPENSSL" genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$k" 2>/dev/null &
	pids="$pids $!"
done
for p in $pids; do wait "$p" || die "RSA key generation failed"; done

# ------------------------------------------------------ certificates -----
cat > x509.cnf <<'EOF'
# Extensions modelled on JPKI certificates (test values; *.invalid URLs).
[req]
distinguished_name = req_dn
[req_dn]

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[auth_ext]
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
certificatePolicies = @auth_policy
crlDistributionPoints = URI:http://crl.jpki-test.invalid/auth/crl.der, URI:ldap://ldap.jpki-test.invalid/cn=CRL1%2Cou=JPKI%20for%20user%20authentication%2Co=JPKI%20TEST%2Cc=JP?certificateRevocationList
authorityInfoAccess = OCSP;URI:http://ocsp.jpki-test.invalid/auth, caIssuers;URI:http://ca.jpki-test.invalid/auth-ca.der
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
issuerAltName = dirName:issuer_dn

[auth_policy]
policyIdentifier = 1.2.392.200149.8.5.1.3.30
CPS.1 = http://www.jpki-test.invalid/cps/auth.html
userNotice.1 = @auth_notice

[auth_notice]
explicitText = "onshi test bench: this certificate identifies nobody. Not issued by J-LIS."

[sign_ext]
keyUsage = critical, digitalSignature, nonRepudiation
certificatePolicies = @sign_policy
crlDistributionPoints = URI:http://crl.jpki-test.invalid/sign/crl.der
authorityInfoAccess = OCSP;URI:http://ocsp.jpki-test.invalid/sign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = @basic_attributes

[sign_policy]
policyIdentifier = 1.2.392.200149.8.5.1.1.10
CPS.1 = http://www.jpki-test.invalid/cps/sign.html

[issuer_dn]
C = JP
O = Japan Agency for Local Authority Information Systems (TEST)
EOF
# 基本4情報 in otherName entries (jpki.md §2.1), UTF8String values.
cat >> x509.cnf <<EOF

[basic_attributes]
otherName.1 = 1.2.392.200149.8.5.5.1;FORMAT:UTF8,UTF8:$name
otherName.2 = 1.2.392.200149.8.5.5.2;FORMAT:UTF8,UTF8:$name_kana
otherName.3 = 1.2.392.200149.8.5.5.3;FORMAT:UTF8,UTF8:$sex
otherName.4 = 1.2.392.200149.8.5.5.4;FORMAT:UTF8,UTF8:$birth
otherName.5 = 1.2.392.200149.8.5.5.5;FORMAT:UTF8,UTF8:$address
otherName.6 = 1.2.392.200149.8.5.5.6;FORMAT:UTF8,UTF8:$address
EOF

ca_subject() { # OU
	echo "/C=JP/O=JPKI TEST/OU=$1/OU=onshi test bench (not J-LIS)"
}
make_ca() { # NAME OU
	"$OPENSSL" req -x509 -new -key "$1.key.pem" -subj "$(ca_subject "$2")" \
		-days 3650 -set_serial 1 -sha256 -config x509.cnf \
		-extensions ca_ext -out "$1.pem" 2>/dev/null ||
		die "cannot make CA $1"
}
make_leaf() { # NAME SUBJECT CA EXT SERIAL
	"$OPENSSL" req -new -key "$1.key.pem" -subj "$2" -config x509.cnf \
		-out "$1.csr" 2>/dev/null || die "cannot make CSR for $1"
	"$OPENSSL" x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key.pem" \
		-set_serial "$5" -days 1825 -sha256 -extfile x509.cnf -extensions "$4" \
		-out "$1.pem" 2>/dev/null || die "cannot issue $1"
	rm -f "$1.csr"
}
to_der() { "$OPENSSL" x509 -in "$1.pem" -outform DER -out "$1.der" || die "DER $1"; }

make_ca auth-ca "JPKI for user authentication"
make_ca sign-ca "JPKI for digital signature"
auth_issuer=auth-ca
if [ $foreign_ca = yes ]; then
	make_ca foreign-ca "JPKI for user authentication"
	auth_issuer=foreign-ca
	to_der foreign-ca
fi
make_leaf auth "/CN=$auth_cn/C=JP" $auth_issuer auth_ext 0x1A2B3C4D
to_der auth-ca; to_der sign-ca; to_der auth
if [ $sign_cert = yes ]; then
	make_leaf sign "/CN=$sign_cn/L=Mihon-shi/L=Test-ken/C=JP" sign-ca sign_ext 0x5E6F7A8B
	to_der sign
fi
rm -f x509.cnf

# ------------------------------------------------------- TLV helpers -----
# hex BYTE...: write bytes given in hex.
hex() { for b in "$@"; do printf "\\$(printf '%03o' "0x$b")"; done; }
size() { wc -c < "$1" | tr -d ' '; }
# ber_len N: BER definite length octets.
ber_len() {
	if [ "$1" -lt 128 ]; then hex "$(printf %02x "$1")"
	elif [ "$1" -lt 256 ]; then hex 81 "$(printf %02x "$1")"
	else hex 82 "$(printf %02x $(($1 >> 8)))" "$(printf %02x $(($1 & 255)))"
	fi
}
ber_len_size() { if [ "$1" -lt 128 ]; then echo 1; elif [ "$1" -lt 256 ]; then echo 2; else echo 3; fi; }
# tlv TAG_HI TAG_LO FILE: one two-byte-tag TLV holding FILE.
tlv() { hex "$1" "$2"; ber_len "$(size "$3")"; cat "$3"; }
u16() { hex "$(printf %02x $(($1 >> 8)))" "$(printf %02x $(($1 & 255)))"; }

# record OUT FILE...: FF 20 <len> { DF21 <offset table> DF22 <FILE1> DF23 ... }
# The offset table holds u16 BE offsets from the start of the record to each
# following TLV (jpki.md §5.1, §5.2).
record() {
	out=$1; shift
	tag=34; n=0; : > rec.body    # 34 = 0x22: the first object is DF22
	for f in "$@"; do
		tlv df "$(printf %02x $tag)" "$f" >> rec.body
		size rec.body > "rec.end.$n"
		tag=$((tag + 1)); n=$((n + 1))
	done
	table_tlv=$((2 + 1 + 2 * n))
	total=$((table_tlv + $(size rec.body)))
	start=$((2 + $(ber_len_size $total) + table_tlv))
	: > rec.table; prev=0; i=0
	while [ $i -lt $n ]; do
		u16 $((start + prev)) >> rec.table
		prev=$(cat "rec.end.$i"); rm -f "rec.end.$i"; i=$((i + 1))
	done
	{ hex ff 20; ber_len $total; tlv df 21 rec.table; cat rec.body; } > "$out"
	rm -f rec.body rec.table
}

# ------------------------------------------------- 入力補助AP records -----
{ hex ff 10 0c; printf '%s' "$my_number"; hex ff ff; } > my-number.bin
printf '%s' "$name" > v.name; printf '%s' "$address" > v.addr
printf '%s' "$birth" > v.birth; printf '%s' "$sex" > v.sex
record attributes.bin v.name v.addr v.birth v.sex

# --------------------------------------------------------- face photo -----
# A cartoon face with deterministic texture, greyscale, 96x120.
awk -v w=96 -v h=120 'BEGIN {
	srand(20240701); printf "P5\n%d %d\n255\n", w, h; cx = w / 2; cy = h * 0.45
	for (y = 0; y < h; y++) for (x = 0; x < w; x++) {
		v = 205 - y * 0.4; dx = (x - cx) / (w * 0.30); dy = (y - cy) / (h * 0.33)
		if (dx * dx + dy * dy < 1) v = 160 + 30 * dx
		if (((x - cx + w * 0.13) / (w * 0.05)) ^ 2 + ((y - cy + h * 0.06) / (h * 0.025)) ^ 2 < 1) v = 40
		if (((x - cx - w * 0.13) / (w * 0.05)) ^ 2 + ((y - cy + h * 0.06) / (h * 0.025)) ^ 2 < 1) v = 40
		if (((x - cx) / (w * 0.14)) ^ 2 + ((y - cy - h * 0.16) / (h * 0.02)) ^ 2 < 1) v = 70
		if (y > h * 0.82 && (x - cx) ^ 2 < (w * 0.4) ^ 2) v = 60
		v = int(v + rand() * 12 - 6); if (v < 1) v = 1; if (v > 255) v = 255
		printf "%c", v
	}
}' > face.pgm
"$OPJ_COMPRESS" -i face.pgm -o face.jp2 -r 4 >/dev/null 2>&1 || die "opj_compress failed"

# ------------------------------------------------ 確認AP card face (券面) --
# A 24x12 1-bit PNG used for the rendered name, address and security code.
echo 'iVBORw0KGgoAAAANSUhEUgAAABgAAAAMAQAAAABQS0DYAAAAE0lEQVR42mMIDQ1lWLVqFQORNACimxHvweZJXAAAAABJRU5ErkJggg==' |
	"$OPENSSL" base64 -d -A > v.png
# DF24: 90 <e> 91 <n> from the DER SubjectPublicKeyInfo of an RSA-2048 key,
# whose layout is fixed: the 256-byte modulus starts at offset 33.
"$OPENSSL" pkey -in visual.key.pem -pubout -outform DER -out v.spki 2>/dev/null || die "visual key"
[ "$(size v.spki)" -eq 294 ] || die "unexpected SPKI size for visual.key.pem"
tail -c +34 v.spki | head -c 256 > v.mod
{ hex 90 03 01 00 01 91 82 01 00; cat v.mod; } > v.pubkey
printf '%s' "$birth" > v.birth; printf '%s' "$sex" > v.sex; printf '%s' "$expiry" > v.expiry
cp face.jp2 v.face
# DF28 stands in for the issuer signature over the three hashed segments:
# RSA-SHA256 (visual key) over SHA-256(DF22‖DF23‖DF24) ‖ SHA-256(DF25‖DF26) ‖ SHA-256(DF27).
{
	cat v.birth v.sex v.pubkey | "$OPENSSL" dgst -sha256 -binary
	cat v.png v.png | "$OPENSSL" dgst -sha256 -binary
	"$OPENSSL" dgst -sha256 -binary v.face
} | "$OPENSSL" dgst -sha256 -sign visual.key.pem -out v.sig || die "card-face signature"
record card-face.bin v.birth v.sex v.pubkey v.png v.png v.face v.sig v.expiry v.png
rm -f v.name v.addr v.birth v.sex v.png v.spki v.mod v.pubkey v.expiry v.face v.sig

# ------------------------------------------------------------ card.conf -----
cat > card.conf <<EOF
# onshi virtual My Number card: TEST DATA for a fictional person.
auth_pin=$auth_pin
sign_pw=$sign_pw
text_pin=$text_pin
my_number=$my_number
collation_b=$collation_b
name=$name
name_kana=$name_kana
address=$address
birth=$birth
sex=$sex
expiry=$expiry
auth_cn=$auth_cn
sign_cert=$sign_cert
foreign_ca=$foreign_ca
EOF
