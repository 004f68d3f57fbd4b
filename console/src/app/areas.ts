// Every area of the console, in navigation order. Adding an area: one import and one entry here
// (see console/HANDOFF.md).
import type { Area } from "./registry";
import { customers } from "../screens/customers";

export const AREAS: Area[] = [customers];
