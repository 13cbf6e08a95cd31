// The CSV roster import: the same file and the same rules as `advocacy roster import` (docs/scim.md):
// each row becomes a SCIM User, created or replaced by userName through the gateway's SCIM API,
// which only an organisation's API key with the hr scope may call. The key is typed here, used
// by this tab for the import, and kept nowhere. A bad row is reported and the import goes on.

import { ApiError } from "../api.js";
import { clear, empty, field, h, pageHeader, problemBox, section, table } from "../dom.js";

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const ADVOCACY = "urn:ietf:params:scim:schemas:extension:advocacy:2.0:User";
const COLUMNS = ["userName", "externalId", "active", "givenName", "familyName", "displayName", "email", "title",
  "employeeNumber", "department", "manager", "jobFamily", "hardToRecruit", "leadership", "languages", "topics"];
const TRUE = new Set(["true", "yes", "1", "y"]);
const FALSE = new Set(["false", "no", "0", "n"]);
const MAX_ROWS = 10_000;
const MAX_BYTES = 5_000_000;

class RowError extends Error {}

/** RFC 4180 CSV: quoted fields may hold commas, quotes ("") and line breaks. */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i += 1; } else if (c === '"') quoted = false; else {
        if (c === "\n") line += 1;
        cell += c;
      }
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(cell); cell = ""; } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      row.push(cell);
      rows.push({ line: rowLine, cells: row });
      row = [];
      cell = "";
      line += 1;
      rowLine = line;
    } else cell += c;
  }
  if (cell !== "" || row.length) {
    row.push(cell);
    rows.push({ line: rowLine, cells: row });
  }
  return rows.filter((r) => r.cells.some((value) => value.trim() !== ""));
}

function records(text) {
  const [header, ...rows] = parseCsv(text.replace(/^\uFEFF/, ""));
  if (!header) throw new RowError("the file is empty: a header row is required");
  const names = header.cells.map((name) => name.trim());
  const unknown = names.filter((name) => name && !COLUMNS.includes(name));
  if (unknown.length) throw new RowError(`unknown columns: ${unknown.join(", ")} (allowed: ${COLUMNS.join(", ")})`);
  if (!names.includes("userName")) throw new RowError("the userName column is required");
  if (rows.length > MAX_ROWS) throw new RowError(`${rows.length} rows: at most ${MAX_ROWS} a file`);
  return rows.map(({ line, cells }) => ({ line, row: Object.fromEntries(names.map((name, i) => [name, (cells[i] || "").trim()])) }));
}

function boolean(row, column, fallback) {
  const text = (row[column] || "").toLowerCase();
  if (!text) return fallback;
  if (TRUE.has(text) || FALSE.has(text)) return TRUE.has(text);
  throw new RowError(`${column} must be true or false`);
}

const list = (text) => (text || "").split(";").map((item) => item.trim()).filter(Boolean);

/** A row as a SCIM User, exactly as the CLI makes it (advocacy_devtools/roster_import.py). */
function userOf(row) {
  if (!row.userName) throw new RowError("userName is empty");
  const user = { schemas: [USER, ENTERPRISE, ADVOCACY], userName: row.userName, active: boolean(row, "active", true) };
  for (const key of ["externalId", "displayName", "title"]) if (row[key]) user[key] = row[key];
  const name = Object.fromEntries(["givenName", "familyName"].filter((k) => row[k]).map((k) => [k, row[k]]));
  if (Object.keys(name).length) user.name = name;
  if (row.email) user.emails = [{ value: row.email, type: "work", primary: true }];
  const enterprise = Object.fromEntries(["employeeNumber", "department"].filter((k) => row[k]).map((k) => [k, row[k]]));
  if (row.manager) enterprise.manager = { value: row.manager };
  user[ENTERPRISE] = enterprise;
  user[ADVOCACY] = {
    hardToRecruit: boolean(row, "hardToRecruit", false),
    leadership: boolean(row, "leadership", false),
    languages: list(row.languages),
    topics: list(row.topics),
    ...(row.jobFamily ? { jobFamily: row.jobFamily } : {}),
  };
  return user;
}

async function scim(key, method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${key}`, Accept: "application/scim+json", ...(body ? { "Content-Type": "application/scim+json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    credentials: "omit",
    cache: "no-store",
  });
  const text = await response.text();
  let payload = {};
  try {
    payload = text ? JSON.parse(text) : {};
  } catch {
    payload = { detail: text.slice(0, 300) };
  }
  if (!response.ok) throw new ApiError(response.status, { title: `SCIM answered ${response.status}`, detail: payload.detail || response.statusText });
  return payload;
}

async function upsert(key, user) {
  const filter = encodeURIComponent(`userName eq ${JSON.stringify(user.userName)}`);
  const found = await scim(key, "GET", `/scim/v2/Users?filter=${filter}`);
  const existing = (found.Resources || [])[0];
  if (!existing) {
    await scim(key, "POST", "/scim/v2/Users", user);
    return "created";
  }
  await scim(key, "PUT", `/scim/v2/Users/${existing.id}`, user);
  return "replaced";
}

function reportCsv(failures) {
  const quote = (text) => `"${String(text).replaceAll('"', '""')}"`;
  return ["row,userName,reason", ...failures.map((f) => [f.row, quote(f.userName), quote(f.reason)].join(","))].join("\n");
}

export async function page(_ctx, target) {
  const status = h("div", { class: "progress", "aria-live": "polite" });
  const report = h("div", {});
  const fileField = field("file", "CSV file", { type: "file", required: true, accept: ".csv,text/csv", hint: `Header row required; only userName is required. Columns: ${COLUMNS.join(", ")}. Booleans: true/false; lists separated by ;` });
  const keyField = field("key", "HR API key", { type: "password", required: true, autocomplete: "off", hint: "An API key of this organisation with the hr scope (Settings → API keys). Used by this tab for the import only, never stored." });
  const button = h("button", { type: "submit", class: "primary" }, "Import");
  const form = h("form", { class: "form", "aria-label": "Import the roster" }, fileField, keyField, h("div", { class: "form-actions" }, button));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = form.elements.namedItem("file").files[0];
    const key = form.elements.namedItem("key").value.trim();
    clear(report);
    if (!file || !key) {
      clear(status, problemBox(new ApiError(422, { title: "Nothing to import", detail: "Choose a CSV file and give an HR API key." })));
      return;
    }
    button.disabled = true;
    try {
      await importFile(file, key, status, report);
    } catch (error) {
      clear(status, problemBox(error instanceof RowError ? new ApiError(422, { title: "The file cannot be imported", detail: error.message }) : error));
    } finally {
      button.disabled = false;
    }
  });
  clear(target,
    pageHeader("Roster import"),
    h("p", { class: "muted" }, "Create or replace employees of the HR roster from a CSV file, through the SCIM API: the same validation as any HR system's. A bad row is reported and the others are kept."),
    section("Import a file", form, status, report));
}

async function importFile(file, key, status, report) {
  if (file.size > MAX_BYTES) throw new RowError(`the file is ${file.size} bytes: at most ${MAX_BYTES}`);
  const rows = records(await file.text());
  if (!rows.length) throw new RowError("the file has a header but no row");
  await scim(key, "GET", "/scim/v2/ServiceProviderConfig");
  const bar = h("progress", { max: rows.length, value: 0, "aria-label": "Rows imported" });
  const counter = h("p", { role: "status" }, `0 of ${rows.length} rows`);
  clear(status, bar, counter);
  const outcome = { created: 0, replaced: 0, failures: [] };
  for (const [index, { line, row }] of rows.entries()) {
    try {
      outcome[await upsert(key, userOf(row))] += 1;
    } catch (error) {
      outcome.failures.push({ row: line, userName: row.userName || "", reason: error.message });
    }
    bar.value = index + 1;
    counter.textContent = `${index + 1} of ${rows.length} rows`;
  }
  counter.textContent = `Done: ${outcome.created} created, ${outcome.replaced} replaced, ${outcome.failures.length} failed (${rows.length} rows).`;
  const download = outcome.failures.length
    ? h("a", { href: URL.createObjectURL(new Blob([reportCsv(outcome.failures)], { type: "text/csv" })), download: "roster-import-errors.csv" }, "Download the error report (CSV)")
    : null;
  clear(report, outcome.failures.length ? [table({
    caption: "Rows not imported",
    columns: [
      { title: "Row", cell: (f) => f.row },
      { title: "userName", cell: (f) => f.userName || "—" },
      { title: "Reason", cell: (f) => f.reason },
    ],
    rows: outcome.failures,
  }), h("p", {}, download)] : empty("Every row was imported."));
}
