// Training progress: a one-line bar on a terminal, JSON lines otherwise (or to a log file), and the SVG training curve.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export interface StepRecord {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  lr: number;
  examplesPerSecond: number;
  /** Seconds left at the current rate. */
  etaSeconds: number;
}

export interface EvalRecord {
  step: number;
  epoch: number;
  metrics: Record<string, number>;
}

export interface ProgressOptions {
  /** Where the bar or the lines go (default process.stderr, so stdout stays free for results). */
  stream?: { write(s: string): boolean; isTTY?: boolean };
  /** Force the bar (true) or JSON lines (false); default: the stream's isTTY. */
  tty?: boolean;
  /** Also append JSON lines to this file (always, TTY or not). */
  logFile?: string;
  /** Minimum milliseconds between bar redraws / stream JSON lines (file lines are never throttled). */
  intervalMs?: number;
}

/** "1h02m", "3m05s", "42s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

/** The bar line for one step, e.g. `[#####.....] step 50/100 ep 1.50 loss 0.6931 lr 5.0e-5 12.3 ex/s ETA 1m05s`. */
export function formatBar(r: StepRecord, width = 24): string {
  const frac = r.totalSteps > 0 ? Math.min(1, r.step / r.totalSteps) : 0;
  const filled = Math.round(frac * width);
  return (
    `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] step ${r.step}/${r.totalSteps} ep ${r.epoch.toFixed(2)} ` +
    `loss ${r.loss.toFixed(4)} lr ${r.lr.toExponential(1)} ${r.examplesPerSecond.toFixed(1)} ex/s ETA ${formatDuration(r.etaSeconds)}`
  );
}

/** Reports steps, evaluations and messages; keeps the history for the training-curve plot. */
export class ProgressReporter {
  readonly steps: StepRecord[] = [];
  readonly evals: EvalRecord[] = [];
  private readonly stream: { write(s: string): boolean; isTTY?: boolean };
  private readonly tty: boolean;
  private readonly logFile: string | undefined;
  private readonly intervalMs: number;
  private lastDraw = 0;
  private barShown = false;

  constructor(opts: ProgressOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = opts.tty ?? Boolean(this.stream.isTTY);
    this.logFile = opts.logFile;
    this.intervalMs = opts.intervalMs ?? (this.tty ? 200 : 10_000);
    if (this.logFile) mkdirSync(dirname(this.logFile), { recursive: true });
  }

  private log(obj: Record<string, unknown>): void {
    const line = JSON.stringify({ time: new Date().toISOString(), ...obj }) + '\n';
    if (this.logFile) appendFileSync(this.logFile, line);
  }

  step(r: StepRecord): void {
    this.steps.push(r);
    this.log({ event: 'step', ...r });
    const now = Date.now();
    const last = r.step >= r.totalSteps;
    if (!last && now - this.lastDraw < this.intervalMs) return;
    this.lastDraw = now;
    if (this.tty) {
      this.stream.write(`\r\x1b[2K${formatBar(r)}`);
      this.barShown = true;
    } else {
      this.stream.write(JSON.stringify({ event: 'step', ...r }) + '\n');
    }
  }

  evaluation(e: EvalRecord): void {
    this.evals.push(e);
    this.log({ event: 'eval', ...e });
    const text = Object.entries(e.metrics)
      .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`)
      .join(' ');
    if (this.tty) this.message(`eval @ step ${e.step}: ${text}`);
    else this.stream.write(JSON.stringify({ event: 'eval', ...e }) + '\n');
  }

  /** A free-form message: its own line on a TTY (the bar is redrawn on the next step), a JSON line otherwise. */
  message(text: string, extra: Record<string, unknown> = {}): void {
    this.log({ event: 'message', message: text, ...extra });
    if (this.tty) {
      this.stream.write(`${this.barShown ? '\r\x1b[2K' : ''}${text}\n`);
      this.barShown = false;
    } else {
      this.stream.write(JSON.stringify({ event: 'message', message: text, ...extra }) + '\n');
    }
  }

  /** Ends the bar line on a terminal. */
  finish(): void {
    if (this.tty && this.barShown) this.stream.write('\n');
    this.barShown = false;
  }
}

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * A self-contained SVG of the training curve: training loss per step (left axis) and each evaluation metric per step
 * (right axis, 0..1 when the metric is a fraction). No scripts, fonts or external references, so it opens anywhere.
 */
export function trainingCurveSvg(
  steps: readonly Pick<StepRecord, 'step' | 'loss'>[],
  evals: readonly EvalRecord[],
  title = 'training curve',
): string {
  // Width and height, then the left, right, top and bottom margins around the plot.
  const [W, H, L, R, T, B] = [800, 420, 60, 60, 40, 50];
  const pw = W - L - R;
  const ph = H - T - B;
  const finite = steps.filter((s) => Number.isFinite(s.loss));
  const maxStep = Math.max(1, ...finite.map((s) => s.step), ...evals.map((e) => e.step));
  const losses = finite.map((s) => s.loss);
  const lossMax = losses.length ? Math.max(...losses) : 1;
  const lossMin = losses.length ? Math.min(0, ...losses) : 0;
  const x = (step: number) => L + (step / maxStep) * pw;
  const yLoss = (v: number) => T + ph - ((v - lossMin) / (lossMax - lossMin || 1)) * ph;
  const metricNames = [...new Set(evals.flatMap((e) => Object.keys(e.metrics)))].filter(
    (k) => k !== 'loss' && k !== 'examples',
  );
  const allMetric = evals.flatMap((e) =>
    metricNames.map((k) => e.metrics[k]).filter((v): v is number => Number.isFinite(v)),
  );
  const unit = allMetric.every((v) => v >= 0 && v <= 1);
  const mMin = unit ? 0 : Math.min(...allMetric, 0);
  const mMax = unit ? 1 : Math.max(...allMetric, 1);
  const yMetric = (v: number) => T + ph - ((v - mMin) / (mMax - mMin || 1)) * ph;
  // Many thousand points make a heavy file for no visible gain: thin the loss line to at most ~2 points per pixel.
  const stride = Math.max(1, Math.floor(finite.length / (2 * pw)));
  const pts = finite.filter((_, i) => i % stride === 0 || i === finite.length - 1);
  const lossPath = pts.map((s, i) => `${i ? 'L' : 'M'}${x(s.step).toFixed(1)},${yLoss(s.loss).toFixed(1)}`).join('');
  const colors = ['#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`);
  parts.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  for (let i = 0; i <= 4; i++) {
    const f = i / 4;
    const yy = T + ph - f * ph;
    parts.push(`<line x1="${L}" x2="${L + pw}" y1="${yy}" y2="${yy}" stroke="#eee"/>`);
    parts.push(
      `<text x="${L - 6}" y="${yy + 4}" text-anchor="end" fill="#1f77b4">${(lossMin + f * (lossMax - lossMin)).toPrecision(3)}</text>`,
    );
    if (metricNames.length)
      parts.push(`<text x="${L + pw + 6}" y="${yy + 4}">${(mMin + f * (mMax - mMin)).toPrecision(3)}</text>`);
    parts.push(`<text x="${x(f * maxStep)}" y="${T + ph + 18}" text-anchor="middle">${Math.round(f * maxStep)}</text>`);
  }
  parts.push(`<text x="${L + pw / 2}" y="${H - 12}" text-anchor="middle">step</text>`);
  parts.push(
    `<text x="14" y="${T + ph / 2}" transform="rotate(-90 14 ${T + ph / 2})" text-anchor="middle" fill="#1f77b4">training loss</text>`,
  );
  if (lossPath) parts.push(`<path d="${lossPath}" fill="none" stroke="#1f77b4" stroke-width="1.2"/>`);
  metricNames.forEach((name, k) => {
    const c = colors[k % colors.length]!;
    const es = evals.filter((e) => Number.isFinite(e.metrics[name]));
    const d = es
      .map((e, i) => `${i ? 'L' : 'M'}${x(e.step).toFixed(1)},${yMetric(e.metrics[name]!).toFixed(1)}`)
      .join('');
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="2"/>`);
    for (const e of es)
      parts.push(
        `<circle cx="${x(e.step).toFixed(1)}" cy="${yMetric(e.metrics[name]!).toFixed(1)}" r="3" fill="${c}"><title>${esc(name)} ${e.metrics[name]} @ step ${e.step}</title></circle>`,
      );
    parts.push(`<text x="${L + 10 + 130 * (k + 1)}" y="${T + 16}" fill="${c}">● eval ${esc(name)}</text>`);
  });
  parts.push(`<text x="${L + 10}" y="${T + 16}" fill="#1f77b4">— training loss</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
