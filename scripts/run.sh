#!/usr/bin/env bash
# The main job: the Telegram bot when TELEGRAM_BOT_TOKEN is set, otherwise the terminal chat.
# Sets up .venv/ on first use, builds the offline model and the index when missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
cd "$root"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" TRANSFORMERS_OFFLINE="${TRANSFORMERS_OFFLINE:-1}"
exec .venv/bin/isobot run "$@"
