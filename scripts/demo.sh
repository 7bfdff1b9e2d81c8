#!/usr/bin/env bash
# scripts/demo.sh — the demo (./dev demo). Until the master and agent exist it
# shows the demo service running in the simulator and for real.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
echo "The demo service is not built yet."
