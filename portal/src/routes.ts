// The portal's pages: one module per page under pages/, loaded when first shown. Add a page with one line here
// (and its messages in i18n/en.ts and i18n/ko.ts). The hub serves index.html for any path outside its API
// prefixes, so every path here works on reload.
import type { Route } from './router';

export const routes: Route[] = [
  { path: '/', load: () => import('./pages/home'), title: 'nav.home', nav: true, public: true },
];
