-- DEV ONLY: a database per service, as in production (each service owns its schema).
CREATE DATABASE contacts;
CREATE DATABASE sales;
CREATE DATABASE marketing;
CREATE DATABASE support;
CREATE DATABASE reporting;
CREATE DATABASE privacy;
CREATE DATABASE webhooks;
