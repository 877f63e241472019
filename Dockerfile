# The one mtaq image: the quick-start pipeline of docker-compose.yml (the default command) and every
# node of deploy/cluster/compose.yml (which names the role and config files as the command).
FROM node:20-bookworm-slim AS build
WORKDIR /opt/mtaq
# better-sqlite3 builds from source when no prebuilt binary can be fetched
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY packages packages
COPY apps apps
COPY bin bin
COPY etc etc
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /opt/mtaq
COPY --from=build /opt/mtaq /opt/mtaq
ENV MTAQ_RABBITMQ_ADDRESS=amqp://guest:guest@rabbitmq/ \
    MTAQ_REDIS_ADDRESS=redis://redis:6379
EXPOSE 2525
VOLUME /opt/mtaq/var
ENTRYPOINT ["node", "bin/mtaq.js"]
# the quick-start pipeline: private networks may relay, delivery writes into /opt/mtaq/var/delivered
CMD ["pipeline", "--smtp-ip", "0.0.0.0", "--smtp-range", "127.0.0.0/8;10.0.0.0/8;172.16.0.0/12;192.168.0.0/16"]
