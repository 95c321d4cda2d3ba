# syntax=docker/dockerfile:1
# Herald: stateless notification-inbox API. Node 24 runs the .ts sources directly (type stripping),
# so there is no build step; the first stage only installs production dependencies.
#
#   docker build -t herald .
#   docker run --rm -p 3000:3000 -e HERALD_STORE_URL=redis://host:6379 \
#     -e HERALD_API_KEYS=acme:<key of 16+ chars> -e HERALD_TOKEN_SECRET=<32+ bytes> herald
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev also skips the devDependency "node" (Node 24 for dev machines): the image uses the
# base image's node. No install scripts are needed by the production dependencies.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0
WORKDIR /app
# Code and dependencies stay owned by root and read-only for the process; only ./data (used by
# the SQLite store, for single-container installs) is writable by the node user.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
RUN mkdir -p /app/data && chown node:node /app/data
# The official image's unprivileged user (uid 1000).
USER node
EXPOSE 3000
# No curl in slim images: node's built-in fetch probes liveness.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/livez').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Signals: node runs as PID 1 with no init. Herald installs its own SIGTERM/SIGINT handlers
# (readiness 503, stop accepting, drain, close the store, exit 0), so the kernel's "PID 1 ignores
# default signal actions" rule does not matter, and Herald spawns no processes that would leave
# zombies (node:cluster workers are reaped by the primary). `docker run --init` (tini) also works.
STOPSIGNAL SIGTERM
CMD ["node", "src/main.js"]
