export interface Series {
  name: string;
  /** A CSS class giving the colour (chart-a, chart-b, ...). */
  className: string;
  values: readonly number[];
}

const W = 640;
const H = 200;
// Room on the left for "500 ms" at the larger label size of narrow screens.
const PAD = { left: 88, right: 12, top: 12, bottom: 26 };

/**
 * A small SVG chart over a fixed time axis (one slot per minute): `bars` are stacked per
 * minute, `series` drawn as lines over them. Scales with its box; the legend and an accessible
 * summary sit outside the drawing, and every bar and point has a <title> tooltip.
 */
export function LineChart({
  title,
  series,
  bars = [],
  times,
  format,
}: {
  title: string;
  series: readonly Series[];
  bars?: readonly Series[];
  times: readonly string[];
  format: (n: number) => string;
}) {
  const n = times.length;
  const stacked = times.map((_, i) => bars.reduce((sum, b) => sum + (b.values[i] ?? 0), 0));
  const max = niceMax(Math.max(0, ...stacked, ...series.flatMap((s) => s.values)));
  const slot = (W - PAD.left - PAD.right) / Math.max(1, n);
  // Lines pass through the middle of each minute's slot, over its bar.
  const x = (i: number) => PAD.left + slot * (i + 0.5);
  const y = (v: number) => PAD.top + (1 - v / max) * (H - PAD.top - PAD.bottom);
  const ticks = [0, max / 2, max];
  const timeTicks = n > 0 ? [0, Math.floor((n - 1) / 2), n - 1] : [];
  const all = [...bars, ...series];
  const last = all.map((s) => `${s.name} ${format(s.values.at(-1) ?? 0)}`).join(', ');
  const when = (i: number) =>
    new Date(times[i] ?? '').toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return (
    <figure className="chart">
      <figcaption>
        <span className="chart-title">{title}</span>
        <span className="legend">
          {all.map((s) => (
            <span key={s.name} className={`legend-item ${s.className}`}>
              {s.name}
            </span>
          ))}
        </span>
      </figcaption>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`${title}, last hour; this minute: ${last}`}
      >
        {ticks.map((t) => (
          <g key={t} className="grid">
            <line x1={PAD.left} x2={W - PAD.right} y1={y(t)} y2={y(t)} />
            <text x={PAD.left - 6} y={y(t) + 4} textAnchor="end">
              {format(t)}
            </text>
          </g>
        ))}
        {timeTicks.map((i) => (
          <text
            key={i}
            className="axis"
            x={x(i)}
            y={H - 6}
            textAnchor={i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle'}
          >
            {i === n - 1 ? 'now' : `−${n - 1 - i} min`}
          </text>
        ))}
        {times.map((_, i) => {
          let base = 0;
          return bars.map((b) => {
            const v = b.values[i] ?? 0;
            if (v <= 0) return null;
            const top = base + v;
            const rect = (
              <rect
                key={`${b.name}-${i}`}
                className={`bar ${b.className}`}
                x={PAD.left + slot * i + slot * 0.15}
                width={slot * 0.7}
                y={y(top)}
                height={y(base) - y(top)}
              >
                <title>{`${when(i)} — ${b.name}: ${format(v)}`}</title>
              </rect>
            );
            base = top;
            return rect;
          });
        })}
        {series.map((s) => (
          <g key={s.name} className={`line ${s.className}`}>
            <polyline points={s.values.map((v, i) => `${x(i)},${y(v)}`).join(' ')} />
            {s.values.map((v, i) =>
              v > 0 ? (
                <circle key={i} cx={x(i)} cy={y(v)} r={2.5}>
                  <title>{`${when(i)} — ${s.name}: ${format(v)}`}</title>
                </circle>
              ) : null,
            )}
          </g>
        ))}
      </svg>
    </figure>
  );
}

/** 1, 2, 5 × 10^k at or above `v` (at least 1), so the axis labels are round. */
function niceMax(v: number): number {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
