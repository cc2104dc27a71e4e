// The theme before the first paint, so a dark page never flashes white. A file
// rather than an inline script: the Content-Security-Policy allows only 'self'.
(function () {
  var choice = null;
  try {
    choice = localStorage.getItem('vigie.theme');
  } catch (e) {
    // No storage: follow the system.
  }
  var dark =
    choice === 'dark' ||
    (choice !== 'light' && window.matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.classList.toggle('dark', dark);
  document.documentElement.style.colorScheme = dark ? 'dark' : 'light';
})();
