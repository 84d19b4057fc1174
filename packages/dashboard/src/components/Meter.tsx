/** A labelled usage bar: "CPU 3 / 8". */
export function Meter({
  label,
  used,
  total,
  text,
  neutral = false,
}: {
  label: string;
  used: number;
  total: number;
  text: string;
  /** A whole device in use is normal, not a warning: no amber/red. */
  neutral?: boolean;
}) {
  const pct = total > 0 ? Math.min(100, Math.max(0, (used / total) * 100)) : 0;
  const level = neutral ? 'low' : pct >= 90 ? 'high' : pct >= 60 ? 'mid' : 'low';
  return (
    <div className="meter">
      <div className="meter-label">
        <span>{label}</span>
        <span className="num">{text}</span>
      </div>
      <div
        className={`meter-track ${level}`}
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={used}
        aria-valuetext={text}
      >
        <div className="meter-fill" style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}
