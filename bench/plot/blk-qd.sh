#!/usr/bin/env bash
# Plot IOPS and p50 latency against queue depth, 4 KiB random reads, from a
# results table of bench/blk-xensim.sh (a markdown table, one row per job):
# one line per "what" (fio on the bare file, blkbackd per engine).
#
#   bench/plot/blk-qd.sh [bench/results/blk-xensim.md]
#
# Writes <table>-iops.png and <table>-p50.png beside the table (gnuplot).
set -euo pipefail
md=${1:-$(dirname "$0")/../results/blk-xensim.md}
command -v gnuplot >/dev/null || {
	echo "plot: gnuplot is not installed (apt-get install gnuplot-nox)" >&2
	exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One data file per series: "qd iops p50", single-queue 4k randread rows.
python3 - "$md" "$tmp" <<'PY'
import re, sys
md, out = sys.argv[1], sys.argv[2]
series = {}
for line in open(md):
    cells = [c.strip() for c in line.strip().strip('|').split('|')]
    if len(cells) < 9 or cells[1] != 'randread' or cells[2] != '4k':
        continue
    what, qd, q, iops, p50 = cells[0], cells[3], cells[4], cells[5], cells[7]
    if q not in ('1', '-') or not qd.isdigit():
        continue
    series.setdefault(what, []).append((int(qd), float(iops), float(p50)))
with open(out + '/series', 'w') as idx:
    for i, (what, pts) in enumerate(series.items()):
        if len(pts) < 2:
            continue
        with open('%s/s%d.dat' % (out, i), 'w') as f:
            for qd, iops, p50 in sorted(pts):
                f.write('%d %f %f\n' % (qd, iops / 1000.0, p50))
        idx.write('%s/s%d.dat\t%s\n' % (out, i, what))
PY
[[ -s $tmp/series ]] || {
	echo "plot: no 4k randread series with two depths or more in $md" >&2
	exit 1
}
base=${md%.md}
for kind in iops p50; do
	if [[ $kind == iops ]]; then
		col=2 ylabel="thousand IOPS" title="4 KiB random read: IOPS"
	else
		col=3 ylabel="p50 latency (us)" title="4 KiB random read: median latency"
	fi
	plots=()
	while IFS=$'\t' read -r dat what; do
		plots+=("'$dat' using 1:$col with linespoints title '$what'")
	done <"$tmp/series"
	gnuplot <<GP
set terminal pngcairo size 800,500 noenhanced
set output '$base-$kind.png'
set title '$title'
set xlabel 'queue depth'
set ylabel '$ylabel'
set logscale x 2
set key left top
set grid
plot $(IFS=,; echo "${plots[*]}")
GP
	echo "plot: $base-$kind.png"
done
