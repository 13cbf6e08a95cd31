// The public API, as the browser calls it: the session cookie (HttpOnly, set by the gateway) and,
// on unsafe methods, the CSRF token the sign-in answered, kept in this tab's sessionStorage.

const CSRF_KEY = "advocacy.csrf";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = { status, ...problem };
  }
}

let onSignedOut = () => {};
export function whenSignedOut(callback) {
  onSignedOut = callback;
}

export const csrf = {
  get: () => sessionStorage.getItem(CSRF_KEY),
  set: (token) => (token ? sessionStorage.setItem(CSRF_KEY, token) : sessionStorage.removeItem(CSRF_KEY)),
};

/** Call the API; answers the parsed JSON (or null), or throws an ApiError with the problem. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (UNSAFE.has(method) && csrf.get()) headers["X-CSRF-Token"] = csrf.get();
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, { title: "The platform cannot be reached", detail: String(error.message || error) });
  }
  const text = await response.text();
  let payload = null;
  if (text) {
    try {
      payload = JSON.parse(text);
    } catch {
      payload = { title: response.statusText, detail: text.slice(0, 300) };
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, payload && typeof payload === "object" ? payload : {});
    if (response.status === 401 && path !== "/api/v1/auth/login") onSignedOut(error);
    throw error;
  }
  return payload;
}

export const get = (path) => api("GET", path);
export const post = (path, body = {}) => api("POST", path, body);
export const put = (path, body) => api("PUT", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);

/** Every item of a cursor-paginated list, up to `max` (lists here are bounded by the API). */
export async function all(path, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const separator = path.includes("?") ? "&" : "?";
    const page = await get(`${path}${separator}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...(page.items || []));
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}
