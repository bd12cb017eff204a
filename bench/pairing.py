# SPDX-License-Identifier: MIT
"""pairing.py - the one rule every benchmark report states its ratios by.

A ratio is the median of *paired* ratios: in each repeat the two devices of
a pair ran back to back, their ratio is taken there, and the median over the
repeats is reported.  Absolute figures drift by tens of percent between
minutes in an emulated guest; the ratio of neighbours much less, so the
ratio of two medians (taken from different minutes) is not used.

Used by bench/report.py, bench/nbd-report.py and bench/rbd-report.py.
"""
import statistics


def median(values):
    """The median of the values that are not None, or None if there are none."""
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def paired_ratios(ours, base, reps):
    """Per repeat in reps, ours[rep] / base[rep] where both are measured
    (not None) and the baseline is not zero.  ours and base map a repeat to
    one figure."""
    vals = []
    for rp in reps:
        x, y = ours.get(rp), base.get(rp)
        if x is not None and y:
            vals.append(x / y)
    return vals


def paired_median(ours, base, reps):
    """(median of the paired ratios or None, the paired ratios)."""
    v = paired_ratios(ours, base, reps)
    return median(v), v
