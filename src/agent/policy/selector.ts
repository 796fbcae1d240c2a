/**
 * Label selectors with Kubernetes semantics: matchLabels and
 * matchExpressions are ANDed; an empty selector selects everything.
 * @module
 */
import type { LabelSelector } from "./types.ts";

/** True when `labels` satisfy `sel`. */
export function selects(sel: LabelSelector, labels: Record<string, string>): boolean {
  const ml = sel.matchLabels;
  if (ml) {
    for (const k in ml) if (labels[k] !== ml[k]) return false;
  }
  const me = sel.matchExpressions;
  if (!me) return true;
  for (const r of me) {
    const has = Object.hasOwn(labels, r.key);
    const values = r.values ?? [];
    switch (r.operator) {
      case "In":
        if (!has || !values.includes(labels[r.key]!)) return false;
        break;
      case "NotIn":
        if (has && values.includes(labels[r.key]!)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
    }
  }
  return true;
}

/** Short text of a selector for explain output: "{}" selects all. */
export function selectorText(sel: LabelSelector): string {
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const r of sel.matchExpressions ?? []) {
    const vals = (r.values ?? []).join(",");
    parts.push(
      r.operator === "Exists"
        ? r.key
        : r.operator === "DoesNotExist"
        ? `!${r.key}`
        : `${r.key} ${r.operator === "In" ? "in" : "notin"} (${vals})`,
    );
  }
  return parts.length === 0 ? "{}" : `{${parts.join(",")}}`;
}
