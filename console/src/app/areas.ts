// Every area of the console, in navigation order. Adding an area: one import and one entry here
// (see console/HANDOFF.md).
import type { Area } from "./registry";
import { customers } from "../screens/customers";
import { sales } from "../screens/sales";
import { manager } from "../screens/manager";
import { admin } from "../screens/admin";
import { support } from "../screens/support";
import { marketing } from "../screens/marketing";

export const AREAS: Area[] = [customers, sales, support, marketing, manager, admin];
