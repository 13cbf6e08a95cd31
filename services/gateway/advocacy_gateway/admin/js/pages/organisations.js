// Platform admins: every organisation, and a new one.

import { all, post } from "../api.js";
import { clear, field, fmtDate, form, h, pageHeader, section, table, value } from "../dom.js";

export async function page(ctx, target) {
  if (!ctx.me.is_platform_admin) {
    clear(target, pageHeader("Organisations"), h("p", {}, "Only platform admins see every organisation."));
    return;
  }
  const orgs = await all("/api/v1/orgs");
  clear(target,
    pageHeader("Organisations"),
    table({
      caption: "Organisations on this platform",
      columns: [
        { title: "Name", cell: (o) => o.name },
        { title: "Slug", cell: (o) => h("code", {}, o.slug) },
        { title: "Created", cell: (o) => fmtDate(o.created_at) },
      ],
      rows: orgs,
      empty: "No organisation yet: create the first one below.",
    }),
    section("Create an organisation", form({
      label: "Create an organisation",
      submit: "Create organisation",
      children: [
        field("name", "Name", { required: true, maxlength: 200 }),
        field("slug", "Slug", { hint: "Lower-case letters, digits and dashes; made from the name when left empty" }),
      ],
      action: (node) => post("/api/v1/orgs", value(node, "slug") ? { name: value(node, "name"), slug: value(node, "slug") } : { name: value(node, "name") }),
      done: (created) => {
        localStorage.setItem("advocacy.org", created.id);
        location.reload();
      },
    })));
}
