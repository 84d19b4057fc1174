import { useState } from 'react';

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState<'copied' | 'failed' | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('copied');
    } catch {
      setDone('failed');
    }
    setTimeout(() => setDone(null), 2_000);
  };
  return (
    <button type="button" className="btn small" onClick={() => void copy()}>
      {done === 'copied' ? 'Copied ✓' : done === 'failed' ? 'Select and copy' : label}
    </button>
  );
}
