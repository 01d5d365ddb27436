#!/bin/sh
# Fails when the CONTENTS comment at the top of nnopt.h no longer matches the file's banners:
# each entry ("==== Title" or "---- Name", then an optional note after two spaces) must begin
# a banner of its kind, and the entries must come in the banners' order.
#   tests/header_contents.sh [HEADER]     default: nnopt.h
set -u
header=${1:-nnopt.h}
[ -r "$header" ] || { echo "header_contents: cannot read $header" >&2; exit 2; }
awk -v header="$header" '
    # the CONTENTS block: its entries, in order
    /^\/\* CONTENTS/ { in_toc = 1; next }
    in_toc && /\*\// { in_toc = 0; next }
    in_toc && /^ +(====|----) / {
        t = $0; sub(/^ +/, "", t)
        kind = substr(t, 1, 4); t = substr(t, 6); sub(/  .*/, "", t)
        entry[++entries] = kind " " t; line_of[entries] = NR
        next
    }
    # the banners: "/* ---- Name ----", and the title line under "/* ====="
    prev ~ /^\/\* =====/ { t = $0; sub(/^ +/, "", t); banner[++banners] = "==== " t }
    /^\/\* ---- / { t = $0; sub(/^\/\* ---- /, "", t); sub(/ -+( \*\/)?$/, "", t); banner[++banners] = "---- " t }
    { prev = $0 }
    END {
        if (entries == 0) { print header ": no CONTENTS entries"; exit 1 }
        b = 1; bad = 0
        for (e = 1; e <= entries; e++) {
            for (k = b; k <= banners && index(banner[k], entry[e]) != 1; k++) ;
            if (k > banners) {
                printf "%s:%d: CONTENTS entry \"%s\" is not a banner (or is out of order)\n", header, line_of[e], entry[e]
                bad = 1
            } else b = k + 1
        }
        if (!bad) printf "%s: %d CONTENTS entries, all banners, in order\n", header, entries
        exit bad
    }' "$header"
