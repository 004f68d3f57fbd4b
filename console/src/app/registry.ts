// How screens join the console: each area (screens/<area>/index.ts) exports an `Area` listing its
// routes; areas.ts lists the areas. A route's component is loaded lazily (its own chunk), its
// `roles` decide who opens it and sees its nav entry (admins see everything, as the API lets them).
import { lazy, type ComponentType, type LazyExoticComponent } from "react";
import type { Label } from "../i18n";

export interface ScreenRoute {
  /** Path below the console root, react-router syntax: "customers/:id". */
  path: string;
  load: () => Promise<{ default: ComponentType }>;
  /** Roles that open it (any of); omitted = every signed-in user. */
  roles?: readonly string[];
  /** A main-navigation entry (lists, inboxes); detail screens have none. */
  nav?: { label: Label; icon?: ComponentType; order?: number };
}

export interface Area {
  id: string;
  label: Label;
  routes: ScreenRoute[];
}

export interface LoadedRoute extends ScreenRoute {
  area: Area;
  Component: LazyExoticComponent<ComponentType>;
}

export function loadRoutes(areas: readonly Area[]): LoadedRoute[] {
  return areas.flatMap((area) =>
    area.routes.map((route) => ({ ...route, area, Component: lazy(route.load) })),
  );
}
