/**
 * The one request helper: every call to the server extension goes through here.
 *
 * URLs are the server's base URL + `dockernb/api/v1` + the endpoint; ServerConnection adds the
 * token and the XSRF header. A failed call becomes an ApiError carrying the server's `message`
 * (docker's wording, e.g. "No such container: web") and the HTTP status.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export const API_NAMESPACE = 'dockernb/api/v1';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** One line of a streamed operation (pull, build): the engine record's fields plus its class name. */
export interface IStreamRecord {
  kind: string;
  [field: string]: unknown;
}

async function send(endpoint: string, init: RequestInit = {}): Promise<Response> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endpoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    if (init.signal?.aborted) {
      throw error;
    }
    throw new ApiError(`cannot reach the Jupyter server: ${String(error)}`, 0);
  }
  if (!response.ok) {
    let message = response.statusText || `HTTP ${response.status}`;
    try {
      const data = (await response.json()) as { message?: unknown };
      if (typeof data.message === 'string' && data.message) {
        message = data.message;
      }
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(message, response.status);
  }
  return response;
}

function jsonInit(body: unknown, signal?: AbortSignal): RequestInit {
  return {
    method: 'POST',
    body: JSON.stringify(body ?? {}),
    headers: { 'Content-Type': 'application/json' },
    signal
  };
}

/** GET an endpoint's JSON. */
export async function requestAPI<T>(endpoint: string): Promise<T> {
  const response = await send(endpoint);
  return (await response.json()) as T;
}

/** POST JSON; resolves to the reply's JSON, or undefined for 204 No Content. */
export async function postAPI<T>(endpoint: string, body?: unknown): Promise<T | undefined> {
  const response = await send(endpoint, jsonInit(body));
  if (response.status === 204) {
    return undefined;
  }
  return (await response.json()) as T;
}

/** Read a body as text chunks split on a separator (JSON lines, SSE frames). */
async function readParts(
  response: Response,
  separator: string,
  onPart: (part: string) => void
): Promise<void> {
  if (!response.body) {
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      break;
    }
    buffer += decoder.decode(value, { stream: true });
    let at: number;
    while ((at = buffer.indexOf(separator)) >= 0) {
      const part = buffer.slice(0, at);
      buffer = buffer.slice(at + separator.length);
      if (part.trim()) {
        onPart(part);
      }
    }
  }
  if (buffer.trim()) {
    onPart(buffer);
  }
}

/**
 * POST and read the JSON-lines reply as it arrives. A stream that fails midway ends with a
 * record of kind "error"; that becomes an ApiError here, as a failure before the stream does.
 */
export async function streamAPI(
  endpoint: string,
  body: unknown,
  onRecord: (record: IStreamRecord) => void,
  signal?: AbortSignal
): Promise<void> {
  const response = await send(endpoint, jsonInit(body, signal));
  const failures: ApiError[] = [];
  await readParts(response, '\n', line => {
    const record = JSON.parse(line) as IStreamRecord;
    if (record.kind === 'error') {
      failures.push(new ApiError(String(record.message), Number(record.status ?? 500)));
      return;
    }
    onRecord(record);
  });
  if (failures.length) {
    throw failures[0];
  }
}

/** One server-sent event. */
export interface IServerEvent {
  event: string;
  data: string;
  id: string | null;
}

/**
 * Follow the server-sent events stream until it ends or `signal` aborts. It uses fetch rather
 * than EventSource, so the token travels in a header and the caller controls reconnection.
 */
export async function followEvents(
  onEvent: (event: IServerEvent) => void,
  signal: AbortSignal,
  lastEventId: string | null
): Promise<void> {
  const headers: Record<string, string> = { Accept: 'text/event-stream' };
  if (lastEventId) {
    headers['Last-Event-ID'] = lastEventId;
  }
  const response = await send('events', { headers, signal });
  await readParts(response, '\n\n', frame => {
    const parsed: IServerEvent = { event: 'message', data: '', id: null };
    const data: string[] = [];
    for (const line of frame.split('\n')) {
      if (line.startsWith(':')) {
        continue; // a keep-alive comment
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') {
        parsed.event = value;
      } else if (field === 'data') {
        data.push(value);
      } else if (field === 'id') {
        parsed.id = value;
      }
    }
    if (data.length) {
      parsed.data = data.join('\n');
      onEvent(parsed);
    }
  });
}
