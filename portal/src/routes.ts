// The portal's pages: one module per page under pages/, loaded when first shown. Add a page with one line here
// (and its messages in i18n/en.ts and i18n/ko.ts). The hub serves index.html for any path outside its API
// prefixes, so every path here works on reload.
import type { Route } from './router';

export const routes: Route[] = [
  { path: '/', load: () => import('./pages/home'), title: 'nav.home', nav: true, public: true },
  { path: '/recalls', load: () => import('./pages/recalls'), title: 'nav.recalls', nav: true },
  { path: '/recalls/:id', load: () => import('./pages/recall'), title: 'nav.recalls' },
  { path: '/uploads', load: () => import('./pages/uploads'), title: 'nav.uploads', nav: true },
  { path: '/food-safety', load: () => import('./pages/food-safety'), title: 'nav.foodSafety', nav: true },
  { path: '/food-safety/ccp/:id', load: () => import('./pages/ccp'), title: 'nav.foodSafety' },
  { path: '/sharing', load: () => import('./pages/sharing'), title: 'nav.sharing', nav: true },
  { path: '/lots', load: () => import('./pages/lots'), title: 'nav.lots', nav: true },
  { path: '/lots/:id', load: () => import('./pages/lot'), title: 'nav.lots' },
];
