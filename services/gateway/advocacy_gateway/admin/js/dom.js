// Building the page: elements from data (never HTML from strings), tables, forms, problems.

/** An element: h("a", {href: "#/x", class: "y", onclick: fn}, "text", child, ...). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (value === true) {
      node.setAttribute(key, "");
    } else {
      node.setAttribute(key, String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

let ids = 0;
export const uid = (prefix = "f") => `${prefix}-${++ids}`;

export function fmtDate(value) {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return value.length <= 10 ? date.toLocaleDateString() : date.toLocaleString();
}

export const pct = (value) => (value === null || value === undefined ? "—" : `${Math.round(value * 1000) / 10} %`);
export const label = (value) => String(value ?? "—").replaceAll("_", " ");

/** A heading plus an optional line of actions. */
export function pageHeader(title, ...actions) {
  return h("div", { class: "page-header" }, h("h1", {}, title), actions.length ? h("div", { class: "actions" }, actions) : null);
}

export function empty(text, ...more) {
  return h("div", { class: "empty" }, h("p", {}, text), more);
}

/** A problem (RFC 9457) as the API gave it: title, detail, the fields at fault, the correlation id. */
export function problemBox(error) {
  const problem = error && error.problem ? error.problem : { title: "Something went wrong", detail: String(error && error.message ? error.message : error) };
  const items = [];
  for (const err of problem.errors || []) {
    const where = (err.loc || []).filter((part) => part !== "body").join(".");
    items.push(h("li", {}, where ? h("code", {}, where) : null, where ? ": " : null, err.msg || err.type));
  }
  if (problem.context) {
    for (const [key, value] of Object.entries(problem.context)) {
      const shown = Array.isArray(value) ? value.map((one) => (one && typeof one === "object" ? one.message || JSON.stringify(one) : one)).join("; ") : JSON.stringify(value);
      items.push(h("li", {}, h("code", {}, key), ": ", shown));
    }
  }
  return h(
    "div",
    { class: "problem", role: "alert" },
    h("p", { class: "problem-title" }, `${problem.title || "Error"}${problem.status ? ` (${problem.status})` : ""}`),
    problem.detail ? h("p", {}, problem.detail) : null,
    items.length ? h("ul", {}, items) : null,
    problem.correlation_id ? h("p", { class: "muted small" }, `Correlation id: ${problem.correlation_id}`) : null,
  );
}

/** A table with a caption; `empty` is what to say when there are no rows. */
export function table({ caption, columns, rows, empty: emptyText = "Nothing here yet." }) {
  if (!rows.length) return h("div", {}, caption ? h("h2", { class: "table-caption" }, caption) : null, empty(emptyText));
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((col) => h("th", { scope: "col" }, col.title)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((col) => h("td", { "data-label": col.title }, col.cell(row)))))),
    ),
  );
}

/** A labelled input; `options` makes a select, `type: "textarea"` a text area. */
export function field(name, text, { type = "text", value = "", required = false, options = null, hint = null, ...rest } = {}) {
  const id = uid(name);
  const hintId = hint ? `${id}-hint` : null;
  let control;
  if (options) {
    control = h("select", { id, name, required, "aria-describedby": hintId, ...rest },
      options.map(([optValue, optText]) => h("option", { value: optValue, selected: String(optValue) === String(value) }, optText)));
  } else if (type === "textarea") {
    control = h("textarea", { id, name, required, "aria-describedby": hintId, rows: 3, ...rest });
    control.value = value;
  } else if (type === "checkbox") {
    control = h("input", { id, name, type, checked: Boolean(value), "aria-describedby": hintId, ...rest });
    return h("div", { class: "field check" }, control, h("label", { for: id }, text), hint ? h("p", { id: hintId, class: "hint" }, hint) : null);
  } else {
    control = h("input", { id, name, type, required, "aria-describedby": hintId, ...rest });
    control.value = value;
  }
  return h("div", { class: "field" }, h("label", { for: id }, text, required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null), control,
    hint ? h("p", { id: hintId, class: "hint" }, hint) : null);
}

/** A group of checkboxes sharing a name, in a fieldset with a legend. */
export function checkboxes(name, legend, choices, checked = []) {
  return h("fieldset", { class: "checks" }, h("legend", {}, legend),
    choices.map(([value, text]) => {
      const id = uid(name);
      return h("div", { class: "field check" }, h("input", { type: "checkbox", id, name, value, checked: checked.includes(value) }), h("label", { for: id }, text));
    }));
}

/**
 * A form whose submit calls `action(form)`; while it runs the button is disabled; a problem it
 * throws is shown above the button and focused; `done` gets the result.
 */
export function form({ label: formLabel, submit, children, action, done, className = "" }) {
  const errors = h("div", { class: "form-errors", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "primary" }, submit);
  const node = h("form", { class: `form ${className}`, "aria-label": formLabel, novalidate: false }, children, errors, h("div", { class: "form-actions" }, button));
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(errors);
    button.disabled = true;
    try {
      const result = await action(node);
      if (done) await done(result, node);
    } catch (error) {
      const box = problemBox(error);
      box.tabIndex = -1;
      clear(errors, box);
      box.focus();
    } finally {
      button.disabled = false;
    }
  });
  return node;
}

export const value = (formNode, name) => formNode.elements.namedItem(name)?.value?.trim() ?? "";
export const checked = (formNode, name) => [...formNode.querySelectorAll(`input[name="${name}"]:checked`)].map((input) => input.value);
export const number = (formNode, name) => {
  const text = value(formNode, name);
  return text === "" ? null : Number(text);
};

/** A section with a heading, for the parts of a page. */
export function section(title, ...children) {
  const id = uid("s");
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), children);
}

/** A notice that a secret is shown once, with the secret itself selectable. */
export function secretNotice(text, secret) {
  return h("div", { class: "notice", role: "status" }, h("p", {}, text), h("code", { class: "secret" }, secret));
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}` }, label(text));
}

/** A labelled list of term/description pairs. */
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.map(([term, description]) => [h("dt", {}, term), h("dd", {}, description)]));
}

/** A bar for a share (0..1) or a count of a total, as a <meter> with the number beside it. */
export function meter(valueNumber, max, text) {
  return h("span", { class: "meter" }, h("meter", { min: 0, max: max || 1, value: valueNumber, "aria-label": text }), h("span", {}, text));
}
