const t0 = Date.now(); const log = (m) => console.log(Date.now() - t0, m);
const { build } = await import('vite'); log('vite imported');
const webpack = await import('webpack'); log('webpack imported');
await build({ root: '/work/main/www/test/apps/vite', logLevel: 'warn' }); log('built');
