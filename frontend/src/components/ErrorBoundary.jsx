// A fault in one view says so and offers a way out, instead of a blank page.
import { Component } from 'react';

export default class ErrorBoundary extends Component {
  constructor(props) {
    super(props);
    this.state = { error: null };
  }

  static getDerivedStateFromError(error) {
    return { error };
  }

  componentDidCatch(error) {
    console.error('Vigie dashboard error', error);
  }

  render() {
    if (!this.state.error) return this.props.children;
    return (
      <div role="alert" className="rounded-lg bg-red-50 p-4 text-red-800 dark:bg-red-500/10 dark:text-red-300">
        <p className="font-medium">This view failed: {String(this.state.error.message || this.state.error)}</p>
        <button type="button" onClick={() => window.location.reload()} className="mt-2 underline">
          Reload the page
        </button>
      </div>
    );
  }
}
