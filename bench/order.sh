# SPDX-License-Identifier: MIT
# order.sh - the order of paired devices' runs, for the bench measuring
# scripts (sourced by bench/measure.sh, bench/nbd-measure.sh and
# bench/rbd-measure.sh).
#
# flipped K REP: true when the K-th job run (counted over all repeats, from
#   1) of repeat REP runs its devices in reverse order.  The order flips from
#   job to job and from repeat to repeat, so that drift over a boot weighs on
#   both devices of a pair alike; flipping by K alone gave each job the same
#   order in every repeat whenever the number of jobs was even.
flipped() { [ $((($1 + $2) % 2)) = 0 ]; }
