FROM node:20-bookworm-slim
WORKDIR /opt/mtaq
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY packages packages
COPY apps apps
COPY bin bin
COPY etc etc
RUN npm ci && npm run build && npm prune --omit=dev
ENV MTAQ_RABBITMQ_ADDRESS=amqp://guest:guest@rabbitmq/ \
    MTAQ_REDIS_ADDRESS=redis://redis:6379
EXPOSE 2525
VOLUME /opt/mtaq/var
ENTRYPOINT ["node", "bin/mtaq.js"]
# the quick-start pipeline: private networks may relay, delivery writes into /opt/mtaq/var/delivered
CMD ["pipeline", "--smtp-ip", "0.0.0.0", "--smtp-range", "127.0.0.0/8;10.0.0.0/8;172.16.0.0/12;192.168.0.0/16"]
