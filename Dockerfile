# hookctl serve in a container. Build: docker build -t hookctl .
# Run:   docker run -p 8080:8080 -e HOOKCTL_DATABASE_URL=postgres://… -e HOOKCTL_MASTER_KEY=… hookctl
# The state (SQLite by default, in /data) and the master key belong on a volume or in PostgreSQL.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# sqlite3 compiles its native binding when no prebuilt binary can be downloaded.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json ./
COPY schemas schemas
COPY src src
COPY harness harness
# npm ci builds dist/ (the prepare script); then keep only what runs.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist/src dist/src
COPY --from=build /app/dist/harness dist/harness
COPY --from=build /app/dist/schemas dist/schemas
COPY schemas schemas
COPY LICENSE ./
RUN mkdir /data && chown node:node /data
USER node
WORKDIR /data
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
