#!/bin/sh
# Developer helper: build and print each distinct compiler diagnostic from our sources once.
swift build "$@" 2>&1 | grep -E '^/work/main/(Sources|Tests)/.*(error|warning):' | sort -u | head -60
