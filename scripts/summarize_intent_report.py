"""Turns Rasa's intent_report.json into a Markdown table of per-intent F1 (worst first)."""
from __future__ import annotations

import json
import sys
from datetime import date


def main(path: str, folds: str) -> None:
    report = json.load(open(path, encoding="utf-8"))
    intents = {k: v for k, v in report.items() if isinstance(v, dict) and "f1-score" in v
               and k not in ("micro avg", "macro avg", "weighted avg")}
    print(f"# Intent cross-validation ({folds} folds, {date.today():%Y-%m-%d})\n")
    print("Pipeline: bot/config.yml. Command: `scripts/nlu_crossval.sh`.\n")
    for avg in ("accuracy", "macro avg", "weighted avg"):
        value = report.get(avg)
        if isinstance(value, dict):
            print(f"- {avg}: F1 {value['f1-score']:.3f}")
        elif value is not None:
            print(f"- {avg}: {value:.3f}")
    print("\n| intent | precision | recall | F1 | examples | confused with |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, v in sorted(intents.items(), key=lambda kv: kv[1]["f1-score"]):
        confused = ", ".join(f"{k} ({n})" for k, n in sorted(
            (v.get("confused_with") or {}).items(), key=lambda kv: -kv[1])[:3])
        print(f"| {name} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1-score']:.3f} | {v['support']} | {confused} |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
