"""The pure core of smsconsent: rules in the seeds' own words, no I/O.

Nothing in this package reads a file, a clock, a database or the network; adapters pass those in.
"""
