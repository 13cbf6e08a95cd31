// The leadership track: shown only to roles that may see leadership metrics (the API refuses the
// others; the navigation leaves the page out for them).

import { all, get } from "../api.js";
import { badge, clear, empty, facts, field, fmtDate, h, label, pageHeader, pct, problemBox, section, table } from "../dom.js";

export async function page(ctx, target) {
  if (!ctx.can("planner.leadership.read")) {
    clear(target, pageHeader("Leadership"), empty("Your role does not include leadership visibility."));
    return;
  }
  const programs = (await get(`${ctx.base()}/programs?limit=200`)).items || [];
  const leaders = await all(`${ctx.base()}/ambassadors?leadership=true`);
  const report = h("div", { "aria-live": "polite" });
  const picker = field("program", "Program", { options: programs.map((p) => [p.id, p.name]) });
  const show = async () => {
    const programId = picker.querySelector("select").value;
    if (!programId) return;
    clear(report, h("p", { class: "muted" }, "Loading…"));
    try {
      const r = await get(`${ctx.base()}/programs/${programId}/leadership`);
      clear(report,
        h("p", {}, r.summary),
        facts([
          ["Phase", label(r.phase)],
          ["Participation target", pct(r.target)],
          ["Participation now", pct(r.actual)],
          ["Target met", r.met === null ? "not measured yet" : badge(r.met ? "met" : "not met", r.met ? "ok" : "bad")],
          ["Leaders enrolled", String(r.leaders_enrolled)],
          ["Leaders on the roster, not enrolled", String(r.leaders_on_roster_not_enrolled)],
        ]));
    } catch (error) {
      clear(report, problemBox(error));
    }
  };
  picker.addEventListener("change", show);
  clear(target,
    pageHeader("Leadership"),
    section("The leadership track of a program",
      programs.length ? [picker, report] : empty("No program yet.")),
    section("Leaders in the program", table({
      caption: "Ambassadors on the leadership track",
      columns: [
        { title: "Name", cell: (a) => h("a", { href: `#/ambassadors/${a.id}` }, a.display_name || `Ambassador ${a.id.slice(0, 8)}`) },
        { title: "State", cell: (a) => badge(a.state) },
        { title: "Since", cell: (a) => fmtDate(a.created_at) },
      ],
      rows: leaders,
      empty: "No leader has been invited yet.",
    })));
  if (programs.length) await show();
}
