import type { ReactNode } from 'react';
import type { Problem } from '../lib/errors';

export function ProblemCard({ problem, onRetry, children }: { problem: Problem; onRetry?: () => void; children?: ReactNode }) {
  return (
    <section className="rooms-problem" role="alert" data-problem={problem.kind}>
      <h2>{problem.title}</h2>
      <p>{problem.message}</p>
      <p className="rooms-next-step"><strong>What to do:</strong> {problem.nextStep}</p>
      {problem.detail && <details><summary>Technical details</summary><code>{problem.detail}</code></details>}
      <div className="rooms-actions">
        {problem.retry && onRetry && <button className="lk-button" onClick={onRetry}>Try again</button>}
      </div>
      {children}
    </section>
  );
}
