#!/usr/bin/env bash
# Regenerates the demo callers' speech (needs espeak-ng and sox). The WAV files are
# committed, so this only runs when the texts change.
set -euo pipefail
cd "$(dirname "$0")/../assets/demo/audio"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gen() { espeak-ng -v "$2" -s 150 -w "$tmp/$1.wav" "$3" && sox "$tmp/$1.wav" -r 8000 -c 1 -b 16 "$1.wav"; }
gen maria de "Guten Tag, hier ist Maria Schmidt von Schmidt Logistik. Meine Lieferung ist seit drei Tagen überfällig. Können Sie mir bitte sagen, wo sie ist?"
gen james en-gb "Hello, this is James Carter from Carter and Sons. I have a question about the last invoice. There is a charge I do not recognise."
gen aylin de "Hallo, Aylin Demir hier. Unser Vertrag läuft nächsten Monat aus, und ich möchte über eine Verlängerung sprechen."
gen lucas en "Hi, this is Lucas Moreau. I cannot log in to the customer portal any more. Could you help me reset my password?"
gen agent-callback en "Hello? Yes, thanks for calling me back. I have a minute now."
