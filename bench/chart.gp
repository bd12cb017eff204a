# SPDX-License-Identifier: MIT
# chart.gp - the benchmark chart, called by bench/report.py:
#   gnuplot -e "outdir='DIR'; ttl='TITLE'; nratios=N; ndev=M" bench/chart.gp
# Top: ratios ours / baseline (IOPS) per job; bottom: IOPS per device (log).
set terminal pngcairo size 1600,1400 font "DejaVu Sans,12" noenhanced
set output outdir."/chart.png"
set datafile missing "NaN"
set multiplot layout 2,1 title ttl font ",15"

# 11 distinct colours (gnuplot's default cycle repeats after 8)
colours = "#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf #000000"
do for [i=1:11] { set linetype i lc rgb word(colours, i) }
set style data histograms
set style histogram clustered gap 2
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside right top vertical Left reverse font ",11"
set xtics nomirror font ",12"

set title "Ratio ours / baseline (IOPS, median of paired runs); dashed: 1.0"
set ylabel "ratio"
set yrange [0:*]
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 2 lc rgb "black" front
plot for [i=2:nratios+1] outdir."/chart-ratios.dat" using i:xtic(1) title columnheader(i)
unset arrow 1

set title "IOPS per device (median; log scale)"
set ylabel "IOPS"
set logscale y
set yrange [*:*]
plot for [i=2:ndev+1] outdir."/chart-iops.dat" using i:xtic(1) title columnheader(i)
unset multiplot
