// What a newcomer sees before any server reports: how to add one.
import { useState } from 'react';
import { apiUrl } from '../services/api.js';

export function collectorCommand(url) {
  return `vigie-collector run --api-url ${url} --enroll-token <enrollment-token>`;
}

export default function EmptyState() {
  const command = collectorCommand(apiUrl());
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(command);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      setCopied(false);
    }
  };
  return (
    <section
      aria-labelledby="empty-title"
      className="mx-auto max-w-2xl rounded-xl border border-dashed border-slate-300 bg-white p-6 dark:border-slate-700 dark:bg-slate-900"
    >
      <h2 id="empty-title" className="text-lg font-semibold">
        No server is reporting yet
      </h2>
      <p className="mt-2 text-sm text-slate-600 dark:text-slate-300">
        Run the Vigie collector on each machine you want to watch: install it from a Vigie
        checkout with <code className="font-mono">pip install ./collector</code> (see{' '}
        <code className="font-mono">collector/README.md</code>), then start it with this
        command. It registers the machine and sends its CPU, memory, disk and network every few
        seconds:
      </p>
      <div className="mt-4 flex items-stretch gap-2">
        <pre className="min-w-0 flex-1 overflow-x-auto rounded-lg bg-slate-900 px-3 py-2 text-sm text-slate-100 dark:bg-black">
          <code data-testid="collector-command">{command}</code>
        </pre>
        <button
          type="button"
          onClick={copy}
          className="rounded-lg border border-slate-300 px-3 text-sm font-medium hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800"
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
      <p className="mt-3 text-sm text-slate-600 dark:text-slate-300">
        The enrollment token is the server's <code className="font-mono">VIGIE_ENROLL_TOKEN</code>:{' '}
        <code className="font-mono">make run</code> prints it and keeps it in{' '}
        <code className="font-mono">.vigie/local.env</code>. This page updates by itself when the
        first sample arrives.
      </p>
    </section>
  );
}
