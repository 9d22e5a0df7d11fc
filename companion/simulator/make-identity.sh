#!/bin/sh
# Regenerates the TEST ONLY identity of the PEC provider simulator (`pecdesk simulate`):
# a test root CA (ca.pem) and the provider's signing certificate (provider.pem) with its
# private key (provider.key). Both are valid from 2000-01-01 to 2099-12-31, so a simulated
# clock may start at any date of that span. The CA key is thrown away.
#
# Run from anywhere: sh companion/simulator/make-identity.sh   (needs the openssl CLI)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
mkdir newcerts
: > index.txt
echo 1000 > serial
cat > ca.cnf <<'CNF'
[ca]
default_ca = sim
[sim]
dir = .
database = ./index.txt
new_certs_dir = ./newcerts
serial = ./serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
countryName = optional
organizationName = optional
commonName = optional
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[provider]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = emailProtection
subjectAltName = email:posta-certificata@sim.pec.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
openssl req -new -newkey rsa:2048 -nodes -keyout ca.key -out ca.csr \
  -subj "/C=IT/O=Simulatore PEC PecDesk/CN=Simulatore PEC PecDesk Root CA (SOLO TEST - TEST ONLY)"
openssl ca -batch -config ca.cnf -selfsign -keyfile ca.key -in ca.csr -out ca.crt \
  -extensions root -startdate 20000101000000Z -enddate 20991231235959Z -notext
openssl req -new -newkey rsa:2048 -nodes -keyout provider.key -out provider.csr \
  -subj "/C=IT/O=Simulatore PEC PecDesk/CN=Posta Certificata Simulatore PEC PecDesk (SOLO TEST)"
openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in provider.csr -out provider.crt \
  -extensions provider -startdate 20000101000000Z -enddate 20991231235959Z -notext
openssl x509 -in ca.crt -out "$here/ca.pem"
openssl x509 -in provider.crt -out "$here/provider.pem"
openssl pkcs8 -topk8 -nocrypt -in provider.key -out "$here/provider.key"
echo "wrote $here/ca.pem provider.pem provider.key (TEST ONLY)"
