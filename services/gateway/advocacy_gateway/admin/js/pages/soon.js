// Slots for pages whose services are being built: they say so, and show no made-up data.

import { clear, h, pageHeader } from "../dom.js";

function slot(target, title, service, what) {
  clear(target, pageHeader(title), h("div", { class: "empty soon-slot", role: "note" },
    h("p", {}, h("strong", {}, `This page arrives with the ${service} service.`)),
    h("p", {}, what),
    h("p", { class: "muted" }, "Nothing is shown here until that service answers through the public API.")));
}

export function content(_ctx, target) {
  slot(target, "Content", "content", "The content library with its approvals, and a preview of what a given ambassador would be suggested, and why.");
}

export function metrics(_ctx, target) {
  slot(target, "Metrics", "metrics", "Reach and engagement over time, employees versus the company page, earned media value, participation and momentum, top posts and the BI export.");
}
