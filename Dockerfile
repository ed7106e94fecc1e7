# orderlog-server in a Debian 12 image, built with the same script as everywhere else.
FROM debian:12
WORKDIR /src
COPY . .
RUN scripts/install-deps && scripts/build release \
    && install -m 0755 build/release/server/orderlog-server /usr/local/bin/orderlog-server
VOLUME /data
EXPOSE 8000
ENV ORDERLOG_DATA_DIR=/data ORDERLOG_LISTEN=0.0.0.0:8000
STOPSIGNAL SIGTERM
CMD ["orderlog-server"]
