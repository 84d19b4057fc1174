export interface Series {
  name: string;
  /** A CSS class giving the stroke colour (chart-a, chart-b, ...). */
  className: string;
  values: readonly number[];
}

const W = 640;
const H = 200;
const PAD = { left: 60, right: 12, top: 12, bottom: 26 };

/**
 * A small SVG line chart over a fixed time axis (one point per minute). Scales with its box;
 * the legend and an accessible summary sit outside the SVG. Each point has a <title> tooltip.
 */
export function LineChart({
  title,
  series,
  times,
  format,
}: {
  title: string;
  series: readonly Series[];
  times: readonly string[];
  format: (n: number) => string;
}) {
  const n = times.length;
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const x = (i: number) => PAD.left + (n <= 1 ? 0 : (i / (n - 1)) * (W - PAD.left - PAD.right));
  const y = (v: number) => PAD.top + (1 - v / max) * (H - PAD.top - PAD.bottom);
  const ticks = [0, max / 2, max];
  const timeTicks = n > 0 ? [0, Math.floor((n - 1) / 2), n - 1] : [];
  const last = series.map((s) => `${s.name} ${format(s.values.at(-1) ?? 0)}`).join(', ');
  return (
    <figure className="chart">
      <figcaption>
        <span className="chart-title">{title}</span>
        <span className="legend">
          {series.map((s) => (
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
        {series.map((s) => (
          <g key={s.name} className={`line ${s.className}`}>
            <polyline points={s.values.map((v, i) => `${x(i)},${y(v)}`).join(' ')} />
            {s.values.map((v, i) =>
              v > 0 ? (
                <circle key={i} cx={x(i)} cy={y(v)} r={2.5}>
                  <title>{`${new Date(times[i] ?? '').toLocaleTimeString()} — ${s.name}: ${format(v)}`}</title>
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
