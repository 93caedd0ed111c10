# The orchestrator image: one image for the Temporal worker and the Kubernetes bridge (spec section 9). The program is
# chosen by the container's arguments (the Deployment's `args`, docker-compose's `command`):
#   /app/dist/worker/main.js   the worker: workflows + activities (the default)
#   /app/dist/bridge/main.js   the bridge: watches the cluster and signals workflows
#   /app/dist/worker/cli.js codec-server   the payload codec server for the Temporal UI (docs/operating.md)
#   /app/dist/client/bin/aimctl.js   aimctl, compiled (e.g. `kubectl exec deploy/aim-worker -- node /app/dist/client/bin/aimctl.js get aimsvc -A`)
# The worker runs the workflow bundle prebuilt here (/app/dist/workflow-bundle*.js, worker/workflowBundle.ts): it does
# not bundle at start-up and the image holds no workflow sources.
# Runs as uid 1000 with a read-only root filesystem (HOME and temp files under /tmp, an emptyDir in the Deployments).
# Build from the repository root:
#   docker build -t ghcr.io/silogen/aim-orchestrator:dev .
ARG NODE_IMAGE=node:22-bookworm-slim

# Compiled from TypeScript with tsc (as images/downloader/Dockerfile does); production dependencies only.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY schemas schemas
COPY domain domain
COPY activities activities
COPY workflows workflows
COPY worker worker
COPY bridge bridge
COPY client client
# The workflow bundle is built from the sources in /src (as `npm run build` does) into /app/dist/workflow-bundle*.js,
# by the compiled builder once /app has its production dependencies (webpack comes with @temporalio/worker).
RUN npx tsc --outDir /app/dist --rootDir . --noEmit false --declaration false --sourceMap false \
      worker/main.ts worker/cli.ts bridge/main.ts worker/buildWorkflowBundle.ts client/bin/aimctl.ts \
      client/bin/kubectl-aim.ts --module NodeNext --moduleResolution NodeNext --target ES2022 \
      --strict --skipLibCheck --esModuleInterop --resolveJsonModule \
 && npm ci --omit=dev --no-audit --no-fund && cp -r node_modules package.json /app/ \
 && node /app/dist/worker/buildWorkflowBundle.js /app/dist

FROM ${NODE_IMAGE}
COPY --from=build /app /app
# MALLOC_ARENA_MAX: glibc keeps up to 8 malloc arenas per core, one per allocating thread (the Temporal Core SDK's
# tokio threads, libuv's, V8's, the workflow thread), and pages freed in them stay in the process: with two, the
# worker's RSS at 200 services was a fifth lower for the same CPU (docs/operating.md, Scaling). The benches run the
# worker with this environment (bench/imageEnv.ts).
ENV HOME=/tmp \
    TMPDIR=/tmp \
    NODE_ENV=production \
    MALLOC_ARENA_MAX=2
# uid 1000 is the image's `node` user; the Deployments' securityContext asks for exactly this.
USER 1000:1000
WORKDIR /app
ENTRYPOINT ["node"]
CMD ["/app/dist/worker/main.js"]
