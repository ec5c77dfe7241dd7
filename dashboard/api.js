// The REST/JSON API on this origin, as the gateway transcodes it from the protos' google.api.http
// annotations: query-string parameters in proto3 JSON names (lowerCamelCase), enums by their full
// names, `Authorization: Bearer <API key or OIDC token>`, errors as {"error": {"code", "message"}}.

const STORAGE_KEY = 'sharedmetrics.credential';

/** Returns the credential of this tab's session, or null when signed out. */
export function credential() {
  return sessionStorage.getItem(STORAGE_KEY);
}

/** Keeps a credential (an API key or an OIDC access token) for this tab only. */
export function setCredential(value) {
  sessionStorage.setItem(STORAGE_KEY, value.trim());
}

/** Forgets the credential. */
export function clearCredential() {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** An answer from the API that is not a success, with its HTTP status and the API's message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Builds a query string; arrays repeat their name, empty values are left out. */
export function queryString(params = {}) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    for (const one of Array.isArray(value) ? value : [value]) search.append(name, String(one));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** Returns the URL of an API path with its parameters (path segments are encoded by the caller). */
export function apiUrl(path, params) {
  return `${path}${queryString(params)}`;
}

async function request(path, params, accept) {
  const headers = { Accept: accept };
  const key = credential();
  if (key) headers.Authorization = `Bearer ${key}`;
  let response;
  try {
    response = await fetch(apiUrl(path, params), { headers, credentials: 'same-origin' });
  } catch (error) {
    throw new ApiError(0, 'UNAVAILABLE', `The platform did not answer (${error.message}).`);
  }
  if (!response.ok) {
    let code = String(response.status);
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && body.error) {
        code = body.error.status || body.error.reason || String(body.error.code ?? code);
        message = body.error.message || message;
      }
    } catch {
      // Not JSON (a proxy's page, say): keep the status line.
    }
    throw new ApiError(response.status, code, message);
  }
  return response;
}

/** GETs a JSON answer. */
export async function getJson(path, params) {
  const response = await request(path, params, 'application/json');
  return response.json();
}

/** GETs the CSV form of a list or query answer. */
export async function getCsv(path, params) {
  const response = await request(path, params, 'text/csv');
  return response.text();
}

/** GETs every page of a list answer and returns the items under `field`. */
export async function getAllPages(path, params, field, limit = 20) {
  const items = [];
  let pageToken = '';
  for (let page = 0; page < limit; page += 1) {
    const body = await getJson(path, { ...params, pageToken });
    items.push(...(body[field] || []));
    pageToken = body.nextPageToken || '';
    if (!pageToken) break;
  }
  return items;
}

/** Encodes one path segment (an area code, metric code or id). */
export function seg(value) {
  return encodeURIComponent(value);
}

let metricCache = { key: null, metrics: null };

/** Lists every metric visible to the caller (cached for the session's credential). */
export async function visibleMetrics() {
  const key = credential();
  if (metricCache.key !== key || !metricCache.metrics) {
    const metrics = await getAllPages('/v1/metrics', { pageSize: 500 }, 'metrics');
    metrics.sort((a, b) => (a.current?.spec?.title || a.code).localeCompare(b.current?.spec?.title || b.code));
    metricCache = { key, metrics };
  }
  return metricCache.metrics;
}

/** Forgets cached answers (after signing in or out). */
export function forgetCache() {
  metricCache = { key: null, metrics: null };
}
