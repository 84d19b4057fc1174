import { useEffect, useState } from 'react';
import { onNavigate, parseRoute, type Route } from '../lib/router';

export function useRoute(): Route {
  const read = () => parseRoute(window.location.pathname, window.location.search);
  const [route, setRoute] = useState<Route>(read);
  useEffect(() => onNavigate(() => setRoute(read())), []);
  return route;
}
