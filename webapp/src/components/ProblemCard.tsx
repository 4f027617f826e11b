import type { ReactNode } from 'react';
import { nextStepOf, type Problem } from '../lib/errors';

/** ``phone``: the room has phone access (its dial-in), so the next step may say "join by phone". */
export function ProblemCard({ problem, onRetry, phone = false, children }: {
  problem: Problem; onRetry?: () => void; phone?: boolean; children?: ReactNode;
}) {
  return (
    <section className="rooms-problem" role="alert" data-problem={problem.kind}>
      <h2>{problem.title}</h2>
      <p>{problem.message}</p>
      <p className="rooms-next-step"><strong>What to do:</strong> {nextStepOf(problem, phone)}</p>
      {problem.detail && <details><summary>Technical details</summary><code>{problem.detail}</code></details>}
      <div className="rooms-actions">
        {problem.retry && onRetry && <button className="lk-button" onClick={onRetry}>Try again</button>}
      </div>
      {children}
    </section>
  );
}
