import { Suspense, lazy, useEffect } from 'react';
import AlertBanner from './components/AlertBanner.jsx';
import ConnectionIndicator from './components/ConnectionIndicator.jsx';
import Dashboard from './components/Dashboard.jsx';
import ErrorBoundary from './components/ErrorBoundary.jsx';
import ThemeSwitch from './components/ThemeSwitch.jsx';
import TokenPrompt from './components/TokenPrompt.jsx';
import { FleetProvider, useFleet } from './features/fleet/useFleet.jsx';
import AdminSignIn from './features/ops/AdminSignIn.jsx';
import RemovedNotice from './features/ops/RemovedNotice.jsx';
import SharedView from './features/ops/SharedView.jsx';
import { shareToken } from './services/auth.js';
import { useLinkHandler, useRoute } from './hooks/useRoute.js';
import { useTheme } from './hooks/useTheme.js';
import { timeZoneName } from './utils/formatters.js';

// The charts library is most of the weight: the overview does not wait for it.
const ServerPage = lazy(() => import('./components/ServerPage.jsx'));
const SharesPage = lazy(() => import('./features/ops/ShareLinks.jsx'));
// A page opened by a share link shows what it shares and nothing else.
const SHARED = Boolean(shareToken());

function TitleCount() {
  // The tab says how many alerts fire, for a dashboard left in the background.
  const { activeAlerts } = useFleet();
  useEffect(() => {
    const base = document.title.replace(/^\(\d+\) /, '');
    document.title = activeAlerts.length ? `(${activeAlerts.length}) ${base}` : base;
  }, [activeAlerts.length]);
  return null;
}

function Header() {
  const { theme, setTheme } = useTheme();
  const link = useLinkHandler();
  return (
    <header className="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
      <div className="mx-auto flex max-w-7xl items-center justify-between gap-3 px-4 py-3">
        {SHARED ? (
          <span className="flex items-center gap-2 font-semibold">
            <img src="/favicon.svg" alt="" className="h-6 w-6" />
            Vigie <span className="text-sm font-normal text-slate-500 dark:text-slate-400">· shared view, read-only</span>
          </span>
        ) : (
          <a href="/" onClick={link} className="flex items-center gap-2 font-semibold">
            <img src="/favicon.svg" alt="" className="h-6 w-6" />
            Vigie
          </a>
        )}
        <div className="flex flex-wrap items-center justify-end gap-2">
          {SHARED ? null : <AdminSignIn />}
          <ConnectionIndicator />
          <ThemeSwitch theme={theme} setTheme={setTheme} />
        </div>
      </div>
    </header>
  );
}

function NotFound() {
  const link = useLinkHandler();
  return (
    <p>
      Nothing here.{' '}
      <a href="/" onClick={link} className="text-sky-700 underline dark:text-sky-400">
        See all servers
      </a>
      .
    </p>
  );
}

export default function App() {
  const route = useRoute();
  return (
    <FleetProvider>
      <TitleCount />
      <div className="flex min-h-screen flex-col">
        <a
          href="#main"
          className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2 focus:text-slate-900"
        >
          Skip to content
        </a>
        <Header />
        {SHARED ? null : <AlertBanner />}
        {SHARED ? null : <RemovedNotice />}
        <main id="main" className="mx-auto w-full max-w-7xl flex-1 px-4 py-6">
          <ErrorBoundary key={route.page === 'server' ? route.id : route.page}>
          {SHARED ? <SharedView route={route.page === 'share' ? route : { token: shareToken(), id: null }} /> : null}
          {!SHARED && route.page === 'overview' ? <Dashboard /> : null}
          {!SHARED && route.page === 'shares' ? (
            <Suspense fallback={<p className="text-slate-500">Loading…</p>}>
              <SharesPage />
            </Suspense>
          ) : null}
          {!SHARED && route.page === 'server' ? (
            <Suspense fallback={<p className="text-slate-500">Loading…</p>}>
              <ServerPage key={route.id} serverId={route.id} />
            </Suspense>
          ) : null}
          {!SHARED && route.page === 'not-found' ? <NotFound /> : null}
          </ErrorBoundary>
        </main>
        <footer className="mx-auto w-full max-w-7xl px-4 py-4 text-xs text-slate-500 dark:text-slate-400">
          Times are in {timeZoneName()}.
        </footer>
        {SHARED ? null : <TokenPrompt />}
      </div>
    </FleetProvider>
  );
}
