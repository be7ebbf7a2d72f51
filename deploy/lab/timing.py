#!/usr/bin/env python3
"""The lab's timing table (deploy/lab/e2e.sh): for every switch the driver recorded, from the
logs it leaves in the lab directory:

  detect     fault -> keepalived's transition on the new master (its notify hook's timestamp)
  cloud      fault -> tcsim moved the HAVIP to the new master (its log: the gratuitous ARP)
  confirmed  fault -> havip notify on the new master ended CONFIRMED (its journal record)
  havip      confirmed - detect: havip's share (start, discovery, reading the cloud back until
             it is true, the journal)
  run        of which the notify run itself (the journal record's elapsed_ms: from the event
             being recorded to the verdict)
  outage     the client's outage through the EIP (its probe: sum of the gaps between the last
             answer before and the first answer after each run of failures)

usage: timing.py LAB_DIR OUT_JSON. Prints the table; writes the same rows as JSON, with
       planned_switch_ms: how long `havip failover` took to return (the driver passes it in
       HAVIP_LAB_PLANNED_MS; null when the planned scene did not run).
       timing.py --self-test: checks the outage arithmetic on made-up probes (the lab runs it
       first).
       timing.py --who-repaired LAB_DIR FALSE REAL MARK T0_NS: after the fault at T0_NS, when
       the false master FALSE fell back, when tcsim moved the HAVIP to it and back to REAL, and
       which of REAL's journal records after line MARK (rx-lower-pri, watch) re-asserted it.
       timing.py --check-confirmed LAB_DIR NODE MARK: exits 1 when a CONFIRMED MASTER record of
       NODE's journal after line MARK was written while tcsim's last move of the HAVIP before
       it was to another node (or there was none): a success the cloud never showed.
"""
import json
import os
import re
import sys
from datetime import datetime, timezone

MAC = {"node1": "52:54:00:00:04:20", "node2": "52:54:00:00:04:21"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")
STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)(Z|[+-]\d\d:\d\d)")


def ns_of(text):
    m = STAMP.search(text)
    if not m:
        return None
    whole, frac = (m.group(1).split(".") + [""])[:2]
    dt = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S")
    tz = m.group(2)
    off = 0 if tz == "Z" else (int(tz[1:3]) * 60 + int(tz[4:6])) * 60 * (1 if tz[0] == "+" else -1)
    secs = int(dt.replace(tzinfo=timezone.utc).timestamp()) - off
    return secs * 10**9 + int((frac + "000000000")[:9])


def lines(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


def first_after(times, t0, t1=None):
    later = [t for t in times if t >= t0 and (t1 is None or t <= t1)]
    return min(later) if later else None


def notify_masters(lab, node):
    out = []
    for l in lines(f"{lab}/{node}/notify.log"):
        p = l.split()
        if len(p) >= 5 and p[1] == "notify" and p[4] == "MASTER":
            out.append(int(p[0]))
    return out


def journal(lab, node, mark=0):
    """node's havip journal records after line mark (a line that does not parse is skipped)."""
    for l in lines(f"{lab}/{node}/state/journal.jsonl")[mark:]:
        try:
            yield json.loads(l)
        except ValueError:
            continue


def confirmed_runs(lab, node, mark=0):
    """(time in ns, elapsed_ms) of node's CONFIRMED notify MASTER records after line mark."""
    out = []
    for r in journal(lab, node, mark):
        if (r.get("trigger") == "notify" and str(r.get("event", "")).upper() == "MASTER"
                and str(r.get("verdict", "")).upper() == "CONFIRMED" and r.get("time")):
            t = ns_of(r["time"])
            if t:
                out.append((t, r.get("elapsed_ms")))
    return out


def confirmations(lab, node, mark=0):
    return [t for t, _ in confirmed_runs(lab, node, mark)]


def all_moves(lab):
    """(time, node) of every move tcsim logged, in order."""
    out = []
    for l in lines(f"{lab}/tcsim.log"):
        l = ANSI.sub("", l)
        if "HAVIP moved by gratuitous ARP" not in l:
            continue
        t = ns_of(l)
        who = next((n for n, mac in MAC.items() if mac in l), None)
        if t and who:
            out.append((t, who))
    return out


def moves(lab, node):
    return [t for t, who in all_moves(lab) if who == node]


def notify_states(lab, node, state):
    out = []
    for l in lines(f"{lab}/{node}/notify.log"):
        p = l.split()
        if len(p) >= 5 and p[1] == "notify" and p[4] == state:
            out.append(int(p[0]))
    return out


def who_repaired(lab, false, real, mark, t0):
    """A false master fell back: from the fault at t0 (ns), when the false node's notify hook
    saw BACKUP, when tcsim moved the HAVIP to it and back to the real master, and which of the
    real master's journal records after line mark re-asserted it: keepalived's
    notify_master_rx_lower_pri hook (rx-lower-pri) and havip watch's repairs (watch), each with
    its end, verdict, writes and plan. Times relative to the fall-back. Exits 1 when a time is
    missing."""
    back = first_after(notify_states(lab, false, "BACKUP"), t0)
    went = first_after(moves(lab, false), t0)
    if back is None or went is None:
        print(f"{false}: no BACKUP notify or no move to it since the fault", file=sys.stderr)
        return 1
    home = first_after(moves(lab, real), went)
    print(f"{false}: its announcement moved the HAVIP {ms(went - back):+d} ms, BACKUP at 0 ms; "
          + (f"tcsim moved it back to {real} at {ms(home - back):+d} ms" if home
             else f"no move back to {real} logged"))
    runs = []
    for r in journal(lab, real, mark):
        if r.get("trigger") in ("rx-lower-pri", "watch") and r.get("time"):
            t = ns_of(r["time"])
            plan = "; ".join(r.get("plan") or []) or "-"
            writes = sum(1 for c in r.get("calls") or [] if c.get("mutating"))
            runs.append((t, r["trigger"], str(r.get("verdict", "")).upper(), plan))
            print(f"{real} {r['trigger']}: started {ms(t - (r.get('elapsed_ms') or 0) * 10**6 - back):+d} ms, "
                  f"ended {ms(t - back):+d} ms, {runs[-1][2]}, {writes} cloud write(s), plan: {plan}")
    done = [r for r in sorted(runs) if r[2] == "CONFIRMED"]
    kinds = sorted({r[1] for r in runs})
    if not done:
        print(f"so: no rx-lower-pri or watch run of {real} confirmed it ({', '.join(kinds) or 'none ran'})")
    else:
        t, kind, _, _ = done[0]
        print(f"so: the cloud follows {real}'s announcements (gratuitous ARP); {real}'s {kind} run "
              f"confirmed it at {ms(t - back):+d} ms"
              + ("" if "watch" in kinds else "; the watcher had nothing to repair"))
    return 0


def check_confirmed(lab, node, mark):
    history = all_moves(lab)
    for k in confirmations(lab, node, mark):
        before = [who for t, who in history if t <= k]
        if not before or before[-1] != node:
            print(f"{node}: CONFIRMED at {k} ns, but the cloud's last move before it was "
                  f"{before[-1] if before else 'none'}", file=sys.stderr)
            return 1
    return 0


def outage(probes, t0, t1):
    """Sum of the failure runs that end in [t0, t1] or are still going at t1, each from the last
    answer before it (or t0) to the first answer after it; None when the client was never
    answered again."""
    total, last_ok, failing = 0, None, False
    for t, ok in probes:
        if t > t1 and not failing:
            break
        if ok:
            if failing and t >= t0:
                total += t - max(last_ok or t0, t0)
            failing, last_ok = False, t
        else:
            failing = True
    if failing:
        return None
    return total


def ms(x):
    return None if x is None else round(x / 1e6)


def main(lab, out_path):
    planned = os.environ.get("HAVIP_LAB_PLANNED_MS", "")
    planned = int(planned) if planned.isdigit() else None
    probes = []
    for l in lines(f"{lab}/probe.log"):
        p = l.split()
        if len(p) >= 2 and p[0].isdigit():
            probes.append((int(p[0]), p[1] == "ok"))
    probes.sort()
    switches = [l.split("\t") for l in lines(f"{lab}/switches.tsv") if l.strip()]
    rows = []
    for i, (scene, t0, node, t_end, note) in enumerate(switches):
        t0, t_end = int(t0), int(t_end)
        d = first_after(notify_masters(lab, node), t0, t_end)
        c = first_after(moves(lab, node), t0, t_end)
        runs = dict(confirmed_runs(lab, node))
        k = first_after(list(runs), t0, t_end)
        row = {
            "scene": scene,
            "to": node,
            "detect_ms": ms(d - t0) if d else None,
            "cloud_ms": ms(c - t0) if c else None,
            "confirmed_ms": ms(k - t0) if k else None,
            "havip_ms": ms(k - d) if d and k else None,
            "run_ms": runs.get(k) if k else None,
            "outage_ms": ms(outage(probes, t0, t_end)),
            "note": note,
        }
        rows.append(row)
    cols = ["scene", "to", "detect_ms", "cloud_ms", "confirmed_ms", "havip_ms", "run_ms",
            "outage_ms"]
    head = ["scene", "new master", "detect", "cloud moved", "confirmed", "havip share",
            "(run)", "client outage"]
    table = [head] + [[str(r["scene"]), r["to"]] + [
        "-" if r[c] is None else f"{r[c]} ms" for c in cols[2:]] for r in rows]
    widths = [max(len(t[i]) for t in table) for i in range(len(head))]
    for j, t in enumerate(table):
        print("   " + "  ".join(v.ljust(widths[i]) if i < 2 else v.rjust(widths[i])
                               for i, v in enumerate(t)))
        if j == 0:
            print("   " + "  ".join("-" * w for w in widths))
    for r in rows:
        if r["note"]:
            print(f"   {r['scene']}: {r['note']}")
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"version": 1, "unit": "ms", "columns": {
            "detect_ms": "fault -> keepalived MASTER on the new node (notify hook timestamp)",
            "cloud_ms": "fault -> tcsim moved the HAVIP (gratuitous ARP)",
            "confirmed_ms": "fault -> havip notify CONFIRMED on the new node",
            "havip_ms": "confirmed - detect",
            "run_ms": "of havip_ms, the notify run itself (journal elapsed_ms)",
            "outage_ms": "client outage through the EIP (probe gaps)",
            "planned_switch_ms": "havip failover: the command's run, from start to return"},
            "planned_switch_ms": planned,
            "switches": rows}, f, indent=2)
        f.write("\n")


def self_test():
    ok, bad = True, False
    cases = [
        ([(0, ok), (50, bad), (100, bad), (150, ok)], 0, 300, 150),  # one run, from the last answer
        ([(0, ok), (50, ok)], 0, 300, 0),  # never interrupted
        ([(-100, bad), (0, bad), (100, ok)], 0, 300, 100),  # already failing at the fault: from it
        ([(0, ok), (50, bad), (100, ok), (150, bad), (250, ok)], 0, 300, 100 + 150),  # two runs
        ([(0, ok), (50, bad)], 0, 300, None),  # never answered again
        ([(0, ok), (50, bad), (400, ok)], 0, 300, 400),  # still failing at the window's end
        ([(0, ok), (50, bad), (100, ok), (400, bad), (500, ok)], 0, 300, 100),  # a later run: not this one's
    ]
    for probes, t0, t1, want in cases:
        got = outage(probes, t0, t1)
        if got != want:
            print(f"outage({probes}, {t0}, {t1}) = {got}, expected {want}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--self-test":
        sys.exit(self_test())
    if len(sys.argv) == 5 and sys.argv[1] == "--check-confirmed":
        sys.exit(check_confirmed(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    if len(sys.argv) == 7 and sys.argv[1] == "--who-repaired":
        sys.exit(who_repaired(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]),
                              int(sys.argv[6])))
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
