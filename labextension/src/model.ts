/**
 * The sidebar's state: the engine's containers and images, the live-updates status and the
 * operations in progress. Views render it; it changes only through its methods, and says so
 * through `changed`.
 *
 * Lists refresh when the engine reports an event for their type (the server's events stream),
 * when the stream (re)connects, and when the user asks; never on a timer.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { humanDuration, humanSize } from './units';
import { ApiError, IServerEvent, IStreamRecord, followEvents, postAPI, requestAPI, streamAPI } from './api';

/** A container as the engine's `containers.list(all=True)` reports it (engine field names). */
export interface IContainerRecord {
  id: string;
  name: string;
  image: string;
  /** docker's State.Status: created, running, paused, restarting, exited, dead */
  state: string;
  /** docker's human status ("Up 3 minutes"), when the engine gives one */
  status?: string;
  /** when it last started / stopped (ISO 8601), to keep the status's durations current */
  started_at?: string | null;
  finished_at?: string | null;
  exit_code?: number;
  ports?: IPortRecord[];
  [field: string]: unknown;
}

export interface IPortRecord {
  container_port: number;
  protocol?: string;
  host_ip?: string;
  host_port?: number | null;
}

/** An image as the engine's `images.list()` reports it. */
export interface IImageRecord {
  id: string;
  tags: string[];
  size?: number;
  created?: string;
  [field: string]: unknown;
}

/** One list of the sidebar: its items, or why there are none. */
export interface ISection<T> {
  items: T[];
  /** the server's message when the list could not be read (e.g. the engine has no such service yet) */
  error: string | null;
  loaded: boolean;
}

/** The events stream: connected to the server, and whether engine events flow through it. */
export interface ILiveStatus {
  connected: boolean;
  live: boolean;
  message: string;
}

/** A pull, build or prune, with the lines it produced (shown in the sidebar's activity section). */
export interface IActivity {
  id: number;
  title: string;
  state: 'running' | 'done' | 'failed';
  lines: string[];
  message: string;
  /** which line each layer's progress rewrites (docker's terminal output), by layer id */
  keyed: Map<string, number>;
}

/** How this server's terminals run the CLI, and whether published ports go through jupyter-server-proxy. */
export interface IClientInfo {
  command: string;
  proxy: boolean;
}

export type ContainerAction = 'start' | 'stop' | 'restart' | 'remove';

const MAX_ACTIVITIES = 5;
const MAX_LINES = 200;

/** Layer states of docker's progress messages (pull, push, load): one line per layer, updated in place. */
const LAYER_STATES = new Set([
  'Pulling fs layer',
  'Waiting',
  'Downloading',
  'Verifying Checksum',
  'Download complete',
  'Extracting',
  'Pull complete',
  'Already exists',
  'Retrying',
  'Preparing',
  'Pushing',
  'Pushed',
  'Layer already exists',
  'Loading layer'
]);

/** jsonmessage's progress bar as docker draws it on a terminal: `[=====>     ]  1.2MB/63.4MB`. */
export function progressBar(current: number, total: number): string {
  if (current <= 0 && total <= 0) {
    return '';
  }
  if (total <= 0) {
    return humanSize(current, 4).padStart(8);
  }
  const pct = Math.min(Math.floor(Math.floor((current / total) * 100) / 2), 50);
  const bar = `[${'='.repeat(pct)}>${' '.repeat(Math.max(50 - pct, 0))}] `;
  return current <= total
    ? `${bar}${humanSize(current, 4).padStart(8)}/${humanSize(total, 4)}`
    : `${bar}${humanSize(current, 4).padStart(8)}`;
}

/**
 * The line a progress message replaces (its layer's), or null when it is a line of its own
 * (`latest: Pulling from library/busybox`, `Digest: ...`, `Status: ...`). docker's classic
 * (BuildKit-free) output on a terminal keeps one line per layer and rewrites it.
 */
export function progressKey(record: IStreamRecord): string | null {
  if (record.kind !== 'ProgressMessage') {
    return null;
  }
  const id = typeof record.id === 'string' ? record.id : '';
  const status = typeof record.status === 'string' ? record.status : '';
  const counted = Number(record.current ?? 0) > 0 || Number(record.total ?? 0) > 0;
  return id && (LAYER_STATES.has(status) || status.startsWith('Mounted from') || counted) ? id : null;
}

/** A build or pull record as one line of text, the way docker's CLI prints it. */
export function describeRecord(record: IStreamRecord): string {
  const r = record as Record<string, unknown>;
  switch (record.kind) {
    case 'ProgressMessage': {
      const id = typeof r.id === 'string' ? r.id : '';
      const head = id ? `${id}: ${String(r.status)}` : String(r.status);
      const bar = progressBar(Number(r.current ?? 0), Number(r.total ?? 0));
      return bar ? `${head} ${bar}` : head;
    }
    case 'BuildContextSent':
      return `Sending build context to Docker daemon  ${humanSize(Number(r.size), 4)}`;
    case 'BuildStep':
      return `Step ${String(r.index)}/${String(r.total)} : ${String(r.text)}`;
    case 'BuildCacheHit':
      return ' ---> Using cache';
    case 'BuildContainer':
      return r.removed
        ? `Removing intermediate container ${String(r.container_id).slice(0, 12)}`
        : ` ---> Running in ${String(r.container_id).slice(0, 12)}`;
    case 'BuildOutput':
    case 'BuildWarning':
      return String(r.text).replace(/\n$/, '');
    case 'BuildStepDone':
      return ` ---> ${String(r.image_id).replace(/^sha256:/, '').slice(0, 12)}`;
    case 'BuildDone':
      return `Successfully built ${String(r.image_id).replace(/^sha256:/, '').slice(0, 12)}`;
    case 'BuildTagged':
      return `Successfully tagged ${String(r.name)}`;
    default: {
      const { kind, ...rest } = record;
      return `${kind} ${JSON.stringify(rest)}`;
    }
  }
}

/** POST prune's reply: what each service removed. */
export interface IPruneResult {
  containers?: { deleted?: string[]; space_reclaimed?: number };
  images?: { deleted?: { untagged?: string; deleted?: string }[]; space_reclaimed?: number };
}

/** A prune's result as `docker system prune` words it. */
export function describePrune(result: IPruneResult): string[] {
  const lines: string[] = [];
  const containers = result.containers?.deleted ?? [];
  if (containers.length) {
    lines.push('Deleted Containers:', ...containers, '');
  }
  const images = result.images?.deleted ?? [];
  if (images.length) {
    lines.push('Deleted Images:');
    for (const item of images) {
      lines.push(item.untagged ? `untagged: ${item.untagged}` : `deleted: ${String(item.deleted)}`);
    }
    lines.push('');
  }
  const space = (result.containers?.space_reclaimed ?? 0) + (result.images?.space_reclaimed ?? 0);
  lines.push(`Total reclaimed space: ${humanSize(space, 4)}`);
  return lines;
}

/** docker's State.String() now: the engine's status with its durations brought up to date. */
export function statusNow(c: IContainerRecord, now: number = Date.now()): string {
  const since = (iso: string | null | undefined) => (iso ? humanDuration(Math.max(0, now - Date.parse(iso)) / 1000) : null);
  const up = since(c.started_at);
  if ((c.state === 'running' || c.state === 'paused') && up) {
    return c.state === 'paused' ? `Up ${up} (Paused)` : `Up ${up}`;
  }
  const down = since(c.finished_at);
  if (c.state === 'exited' && down && c.started_at) {
    return `Exited (${c.exit_code ?? 0}) ${down} ago`;
  }
  return c.status || c.state;
}

export class DockerModel {
  readonly containers: ISection<IContainerRecord> = { items: [], error: null, loaded: false };
  readonly images: ISection<IImageRecord> = { items: [], error: null, loaded: false };
  readonly live: ILiveStatus = { connected: false, live: false, message: 'connecting…' };
  readonly activities: IActivity[] = [];
  /** the engine's version record (GET version), once read */
  version: Record<string, unknown> | null = null;
  /** GET client, once read */
  client: IClientInfo = { command: 'dockernb', proxy: false };
  /** why the engine could not be read (its configuration, the server extension missing...) */
  engineError: string | null = null;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Read everything once, then follow the events stream (reconnecting) until disposed. */
  start(): void {
    void this._readClient();
    void this.refresh();
    void this._follow();
  }

  dispose(): void {
    this._disposed = true;
    this._abort.abort();
    Signal.clearData(this);
  }

  async refresh(): Promise<void> {
    await Promise.all([this._readVersion(), this.refreshContainers(), this.refreshImages()]);
  }

  async refreshContainers(): Promise<void> {
    await this._read(this.containers, async () =>
      (await requestAPI<{ containers: IContainerRecord[] }>('containers')).containers
    );
  }

  async refreshImages(): Promise<void> {
    await this._read(this.images, async () => (await requestAPI<{ images: IImageRecord[] }>('images')).images);
  }

  /** start/stop/restart/remove a container; the error, if any, is thrown for the caller to show. */
  async containerAction(name: string, action: ContainerAction, force = false): Promise<void> {
    await postAPI(`containers/${encodeURIComponent(name)}/${action}`, { force });
    if (!this.live.live) {
      await this.refreshContainers();
    }
  }

  async removeImage(ref: string, force = false): Promise<void> {
    await postAPI('images/remove', { ref, force });
    if (!this.live.live) {
      await this.refreshImages();
    }
  }

  pull(ref: string): Promise<IActivity> {
    return this._operation(`pull ${ref}`, activity =>
      streamAPI('images/pull', { ref }, record => this._record(activity, record))
    );
  }

  /** Build the Dockerfile at `path` (a path of the file browser); its directory is the context. */
  build(path: string, tags: string[]): Promise<IActivity> {
    const title = `build ${path}${tags.length ? ` -t ${tags.join(' -t ')}` : ''}`;
    return this._operation(title, activity =>
      streamAPI('build', { path, tags }, record => this._record(activity, record))
    );
  }

  prune(): Promise<IActivity> {
    return this._operation('prune', async activity => {
      const result = await postAPI<IPruneResult>('prune');
      for (const line of describePrune(result ?? {})) {
        this._line(activity, line);
      }
    });
  }

  private async _operation(title: string, run: (activity: IActivity) => Promise<void>): Promise<IActivity> {
    const activity: IActivity = {
      id: ++this._lastActivity,
      title,
      state: 'running',
      lines: [],
      message: '',
      keyed: new Map()
    };
    this.activities.unshift(activity);
    this.activities.splice(MAX_ACTIVITIES);
    this._changed.emit();
    try {
      await run(activity);
      activity.state = 'done';
    } catch (error) {
      activity.state = 'failed';
      activity.message = error instanceof Error ? error.message : String(error);
    }
    this._changed.emit();
    if (!this.live.live) {
      void this.refreshContainers();
      void this.refreshImages();
    }
    return activity;
  }

  private _record(activity: IActivity, record: IStreamRecord): void {
    const key = progressKey(record);
    const line = describeRecord(record);
    if (key === null) {
      // as docker: a line of its own ends the block of layer lines being rewritten
      activity.keyed.clear();
    } else if (activity.keyed.has(key)) {
      activity.lines[activity.keyed.get(key)!] = line;
      this._changed.emit();
      return;
    } else {
      activity.keyed.set(key, activity.lines.length);
    }
    this._line(activity, line);
  }

  private _line(activity: IActivity, line: string): void {
    activity.lines.push(line);
    const drop = Math.max(0, activity.lines.length - MAX_LINES);
    if (drop) {
      activity.lines.splice(0, drop);
      for (const [key, at] of activity.keyed) {
        if (at < drop) {
          activity.keyed.delete(key);
        } else {
          activity.keyed.set(key, at - drop);
        }
      }
    }
    this._changed.emit();
  }

  private async _readClient(): Promise<void> {
    try {
      this.client = await requestAPI<IClientInfo>('client');
      this._changed.emit();
    } catch {
      // keep the default: `dockernb` on the terminal's PATH, ports linked directly
    }
  }

  private async _readVersion(): Promise<void> {
    try {
      this.version = await requestAPI<Record<string, unknown>>('version');
      this.engineError = null;
    } catch (error) {
      this.version = null;
      this.engineError = error instanceof Error ? error.message : String(error);
    }
    this._changed.emit();
  }

  private async _read<T>(section: ISection<T>, read: () => Promise<T[]>): Promise<void> {
    try {
      section.items = await read();
      section.error = null;
    } catch (error) {
      section.items = [];
      section.error = error instanceof ApiError || error instanceof Error ? error.message : String(error);
    }
    section.loaded = true;
    if (!this._disposed) {
      this._changed.emit();
    }
  }

  private async _follow(): Promise<void> {
    let delay = 1000;
    while (!this._disposed) {
      try {
        await followEvents(event => this._onEvent(event), this._abort.signal, this._lastEventId);
        delay = 1000; // the server ended the stream (e.g. we fell behind): reconnect soon
      } catch (error) {
        if (this._disposed) {
          return;
        }
        this.live.message = error instanceof Error ? error.message : String(error);
        delay = Math.min(delay * 2, 30000);
      }
      this.live.connected = false;
      this._changed.emit();
      await new Promise(resolve => setTimeout(resolve, delay));
    }
  }

  private _onEvent(event: IServerEvent): void {
    if (event.event === 'status') {
      const status = JSON.parse(event.data) as { live: boolean; message: string };
      const reconnected = !this.live.connected;
      this.live.connected = true;
      this.live.live = status.live;
      this.live.message = status.message;
      this._changed.emit();
      if (reconnected && this._everConnected) {
        void this.refresh(); // events may have been missed while the stream was down
      }
      this._everConnected = true;
      return;
    }
    if (event.event !== 'docker') {
      return;
    }
    if (event.id) {
      this._lastEventId = event.id;
    }
    const record = JSON.parse(event.data) as { type?: string };
    if (record.type === 'container') {
      this._soon('containers', () => this.refreshContainers());
    } else if (record.type === 'image') {
      this._soon('images', () => this.refreshImages());
    }
  }

  /** Coalesce a burst of events (a `run` is create + attach + start) into one refresh. */
  private _soon(key: string, fn: () => Promise<void>): void {
    if (this._pending.has(key)) {
      return;
    }
    this._pending.add(key);
    setTimeout(() => {
      this._pending.delete(key);
      void fn();
    }, 150);
  }

  private _changed = new Signal<this, void>(this);
  private _abort = new AbortController();
  private _disposed = false;
  private _everConnected = false;
  private _lastEventId: string | null = null;
  private _lastActivity = 0;
  private _pending = new Set<string>();
}
